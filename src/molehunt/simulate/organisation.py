"""The synthetic organisation: units, teams, roles, people, their machines and habits.

An organisation is either invented (:func:`build_organisation`) or read from CERT-layout monthly
LDAP files (:func:`organisation_from_ldap`); behaviour is then simulated for its people alike.
Every person gets a behaviour *profile* from their role and personal *habits* drawn around that
profile, so that peers resemble each other without being copies.
"""

from __future__ import annotations

import calendar
import csv
import dataclasses
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from types import MappingProxyType

from molehunt.errors import SourceError
from molehunt.simulate.styles import BASELINE, OrganisationStyle
from molehunt.simulate.vocabulary import (
    FIRST_NAMES,
    LAST_NAMES,
    PERSONAL_MAIL_DOMAINS,
    TOPICS,
)

#: Web categories a visit can fall in (``general`` = the uncategorised rest of the web).
WEB_CATEGORIES = ("general", "news", "social", "webmail", "cloud_storage", "job_board",
                  "expert_network", "hacking_tools", "paste_leak")


@dataclass(frozen=True)
class Profile:
    """Mean behaviour of a kind of role, per working day unless said otherwise."""

    http: float  # web page visits
    web_mix: tuple[float, ...]  # share of visits per WEB_CATEGORIES entry
    email_internal: float
    email_external: float  # to partners and customers
    webmail: float  # mail to personal addresses
    attach: float  # share of mails with an attachment
    media_share: float  # share of the role's people who use removable media at all
    media_days: float  # for those, share of working days with a device connected
    print_jobs: float
    opens: float  # documents opened
    writes: float  # documents written
    cloud_uploads: float  # legitimate uploads to cloud storage
    other_machines: float  # logons to machines other than one's own
    after_hours: float  # share of working days with an evening session
    weekend: float  # share of weekends with some work
    travel: float  # business trips per year
    closed_door: bool  # attends closed-door meetings


def _mix(general: float, news: float, social: float, webmail: float, cloud: float, job: float,
         expert: float = 0.0, hacking: float = 0.0, paste: float = 0.0) -> tuple[float, ...]:
    return (general, news, social, webmail, cloud, job, expert, hacking, paste)


PROFILES: MappingProxyType[str, Profile] = MappingProxyType({
    "engineer": Profile(90, _mix(.78, .08, .06, .04, .02, .012, 0, .002, .004), 5, .3, .15, .22,
                        .15, .2, .4, 5, 1.4, .03, .01, .08, .06, .5, False),
    "sales": Profile(75, _mix(.62, .14, .1, .06, .05, .012, .004), 3, 6, .3, .3, .1, .1, .8, 2,
                     .5, .15, .01, .1, .12, 6, False),
    "it_admin": Profile(105, _mix(.8, .07, .05, .04, .025, .01, 0, .004, .002), 3, .2, .1, .15,
                        .9, .85, .2, 2, .6, .05, 3, .15, .12, .5, False),
    "security": Profile(95, _mix(.76, .08, .04, .04, .02, .01, 0, .04, .012), 3, .3, .1, .2,
                        .7, .5, .2, 2, .6, .03, 1, .18, .1, 1, False),
    "manager": Profile(60, _mix(.66, .14, .08, .06, .04, .012, .002), 9, 1.5, .2, .35, .1, .1,
                       1, 4, .8, .05, .05, .15, .15, 4, True),
    "executive": Profile(45, _mix(.6, .2, .08, .06, .04, .01, .004), 8, 3, .2, .35, .05, .1,
                         1.2, 3, .6, .05, .02, .25, .25, 8, True),
    "staff": Profile(68, _mix(.7, .12, .1, .05, .02, .012), 4, .8, .2, .25, .05, .1, 1.5, 3,
                     1, .02, .01, .04, .03, .5, False),
})


def profile_for_role(role: str) -> str:
    """The behaviour profile of a role name (also CERT's role names).

    >>> profile_for_role("ITAdmin"), profile_for_role("Salesman"), profile_for_role("Director")
    ('it_admin', 'sales', 'executive')
    """
    lowered = role.lower()
    rules = (("security", "security"), ("itadmin", "it_admin"), ("it admin", "it_admin"),
             ("network", "it_admin"), ("helpdesk", "it_admin"), ("sales", "sales"),
             ("market", "sales"), ("account", "sales"), ("president", "executive"),
             ("director", "executive"), ("chief", "executive"), ("manager", "manager"),
             ("lead", "manager"), ("engineer", "engineer"), ("programmer", "engineer"),
             ("scientist", "engineer"), ("research", "engineer"), ("technician", "engineer"),
             ("designer", "engineer"), ("architect", "engineer"), ("developer", "engineer"))
    for needle, profile in rules:
        if needle in lowered:
            return profile
    return "staff"


@dataclass
class Habits:
    """One person's own rhythm and rates: their profile bent by personal taste."""

    start_hour: float
    start_sd: float
    day_hours: float
    after_hours: float
    weekend: float
    http: float
    web_mix: list[float]
    email_internal: float
    email_external: float
    webmail: float
    attach: float
    media_days: float  # 0 for people who never use removable media
    media_files: float  # files per media session
    print_jobs: float
    opens: float
    writes: float
    cloud_uploads: float
    other_machines: float
    sick_rate: float
    drift: float  # relative change of activity per year
    drift_phase: float
    travel: float  # business trips per year
    #: day indices of vacations
    vacation: set[int] = field(default_factory=set)
    #: "day", or "evening" / "night" for shift workers (a night shift runs past midnight)
    shift: str = "day"
    #: chance of a working day at a shared machine instead of one's own
    shared_machine: float = 0.03
    #: reads expert networks as part of the job (a benign look-alike of S1 and S4)
    expert_network_reader: bool = False


@dataclass
class Person:
    """One employee over the simulated period (day indices count from the start date)."""

    index: int
    user_id: str
    name: str
    email: str
    role: str
    profile: str
    business_unit: str
    functional_unit: str
    department: str
    team: str
    projects: tuple[str, ...]
    supervisor: int | None
    pc: str
    hire_day: int  # first day employed (<= 0: employed before the start)
    leave_day: int | None  # first day no longer employed
    habits: Habits
    personal_email: str
    lookalikes: list[str] = field(default_factory=list)
    #: how a leaver goes: "resign" (with notice), "terminated", "laid_off" or "silent"
    departure: str = "resign"
    #: day index of the resignation notice, for those who resign
    notice_day: int | None = None
    #: whether an honest job search precedes the notice (a scenario may do its own instead)
    searches_before_leaving: bool = True

    def employed(self, day: int) -> bool:
        """Whether the person works for the company on day index ``day``."""
        return self.hire_day <= day and (self.leave_day is None or day < self.leave_day)


@dataclass
class Project:
    """A project: its topic, language, owning team and members' teams."""

    name: str
    topic: str
    language: str  # "en" or "zh"
    department: str
    teams: tuple[str, ...]
    crown_jewel: bool


@dataclass
class Organisation:
    """Everyone who works for the company at some point of the period, and its structure."""

    company: str
    domain: str
    start: date
    days: int
    people: list[Person]
    projects: dict[str, Project]
    shared_pcs: list[str]
    #: department → list of person indices
    departments: dict[str, list[int]] = field(default_factory=dict)
    teams: dict[str, list[int]] = field(default_factory=dict)
    ldap_files: list[Path] = field(default_factory=list)
    #: the company culture its people's habits were drawn in
    style: OrganisationStyle = BASELINE

    def index(self) -> None:
        """Rebuild the department and team membership lists."""
        self.departments.clear()
        self.teams.clear()
        for person in self.people:
            self.departments.setdefault(person.department, []).append(person.index)
            self.teams.setdefault(person.team, []).append(person.index)

    def people_by_id(self) -> dict[str, int]:
        """User id → person index."""
        return {p.user_id: p.index for p in self.people}

    def day_date(self, day: int) -> date:
        """Calendar date of a day index."""
        return self.start + timedelta(days=day)


#: (functional unit, departments, roles with weights) of an invented company.
_STRUCTURE: tuple[tuple[str, tuple[str, ...], tuple[tuple[str, float], ...]], ...] = (
    ("Research and Development", ("Cell Chemistry", "Power Electronics", "Embedded Systems",
                                  "Autonomy", "Silicon"),
     (("Engineer", .45), ("SoftwareEngineer", .25), ("Scientist", .2), ("LabTechnician", .1))),
    ("Manufacturing", ("Cell Production", "Supply Chain", "Quality"),
     (("ProductionEngineer", .5), ("Technician", .3), ("Buyer", .2))),
    ("Sales and Marketing", ("Sales", "Marketing"),
     (("Salesman", .55), ("MarketAnalyst", .3), ("AccountManager", .15))),
    ("Information Technology", ("IT Operations", "Security"),
     (("ITAdmin", .7), ("SecurityAnalyst", .2), ("HelpDesk", .1))),
    ("Administration", ("Finance", "Human Resources", "Legal"),
     (("Accountant", .4), ("HRSpecialist", .3), ("Administrator", .2), ("Lawyer", .1))),
)
_UNIT_SHARE = (0.45, 0.2, 0.13, 0.08, 0.14)
_DEPARTMENT_TOPICS = {
    "Cell Chemistry": ("cathode", "electrolyte"), "Power Electronics": ("inverter", "charging"),
    "Embedded Systems": ("bms",), "Autonomy": ("autonomy",), "Silicon": ("chip_design",),
    "Cell Production": ("cell_process",), "Supply Chain": ("manufacturing",),
    "Quality": ("manufacturing", "cell_process"), "Sales": ("market",), "Marketing": ("market",),
    "IT Operations": ("software_platform",), "Security": ("software_platform",),
    "Finance": ("corporate",), "Human Resources": ("corporate",), "Legal": ("corporate",),
}
_CROWN_JEWEL_TOPICS = {"cathode", "electrolyte", "cell_process", "bms", "chip_design"}


def _styled(profile: Profile, style: OrganisationStyle) -> Profile:
    """The role's profile as the company's culture bends it (``baseline``: unchanged)."""
    return dataclasses.replace(
        profile, http=profile.http * style.http,
        web_mix=tuple(share * style.web_mix.get(category, 1.0)
                      for category, share in zip(WEB_CATEGORIES, profile.web_mix, strict=True)),
        email_internal=profile.email_internal * style.email_internal,
        email_external=profile.email_external * style.email_external,
        webmail=profile.webmail * style.webmail,
        media_share=min(0.97, profile.media_share * style.media_share),
        media_days=profile.media_days * style.media_days,
        cloud_uploads=profile.cloud_uploads * style.cloud_uploads,
        other_machines=profile.other_machines * style.other_machines,
        after_hours=profile.after_hours * style.after_hours,
        weekend=profile.weekend * style.weekend, travel=profile.travel * style.travel)


def _person_habits(profile_name: str, rng: random.Random, days: int,
                   style: OrganisationStyle, seed: int, user_id: str) -> Habits:
    """The person's habits in the company's culture.

    ``baseline`` draws them from the organisation's stream ``rng``, as the simulator always
    has. Any other style draws the same numbers from it too, so that the names, machines and
    tenures drawn after this person stay those of ``baseline`` (the same people in another
    culture), and then draws the habits from a stream of the person's own: how many numbers
    a habit takes depends on the shares (an unused habit is not drawn).
    """
    def extra() -> random.Random:  # what only styles decide, e.g. shift work
        return random.Random(f"habits-style/{seed}/{user_id}")

    habits = _habits(profile_name, rng, days, BASELINE, extra())
    if style == BASELINE:
        return habits
    return _habits(profile_name, random.Random(f"habits/{seed}/{user_id}"), days, style,
                   extra())


def _habits(profile_name: str, rng: random.Random, days: int, style: OrganisationStyle,
            style_rng: random.Random) -> Habits:
    def bend(value: float, spread: float = 0.35) -> float:
        return value * rng.lognormvariate(0.0, spread)

    profile = _styled(PROFILES[profile_name], style)
    # always the same number of draws from the style stream, whatever the style
    shift_draw, night_draw, shift_start, rotation, shared_draw, road_draw, expert_draw = (
        style_rng.random() for _ in range(7))
    late = rng.random() < style.late_share  # habitually working late: a benign look-alike
    mix = [bend(share, 0.5) if share else 0.0 for share in profile.web_mix]
    if rng.random() < 1.0 - style.job_board_share:
        mix[WEB_CATEGORIES.index("job_board")] = 0.0
    if rng.random() < 0.6:
        mix[WEB_CATEGORIES.index("paste_leak")] = 0.0
    expert_reader = expert_draw < style.expert_reader_share
    if expert_reader:
        mix[WEB_CATEGORIES.index("expert_network")] += 0.006
    total = sum(mix)
    uses_media = rng.random() < profile.media_share
    habits = Habits(
        start_hour=min(10.5 + style.start_later, max(6.0, rng.gauss(
            (8.3 if not late else 9.6) + style.start_later, 0.6))),
        start_sd=rng.uniform(0.15, 0.6),
        day_hours=min(11.0 + style.longer_days, max(6.5, rng.gauss(8.8 + style.longer_days,
                                                                     0.7))),
        after_hours=min(0.9, bend(profile.after_hours) * (4.0 if late else 1.0)),
        weekend=min(0.6, bend(profile.weekend) * (2.5 if late else 1.0)),
        http=bend(profile.http, 0.45),
        web_mix=[share / total for share in mix],
        email_internal=bend(profile.email_internal),
        email_external=bend(profile.email_external, 0.5),
        webmail=bend(profile.webmail, 0.6),
        attach=min(0.8, bend(profile.attach, 0.25)),
        media_days=min(1.0, bend(profile.media_days, 0.4)) if uses_media else 0.0,
        media_files=bend(2.0, 0.5),
        print_jobs=bend(profile.print_jobs, 0.6),
        opens=bend(profile.opens),
        writes=bend(profile.writes),
        cloud_uploads=(bend(profile.cloud_uploads, 0.8) if rng.random() < style.cloud_share
                       else 0.0),
        other_machines=bend(profile.other_machines) if profile.other_machines >= 0.5 else (
            profile.other_machines if rng.random() < style.other_machines_share else 0.0),
        sick_rate=rng.uniform(0.005, 0.03),
        drift=rng.gauss(0.0, 0.12),
        drift_phase=rng.uniform(0, 6.283),
        travel=profile.travel * (3.0 if road_draw < style.road_warrior_share else 1.0),
        expert_network_reader=expert_reader,
    )
    habits.vacation = _vacation_days(rng, days)
    if shift_draw < style.shift_share.get(profile_name, 0.0):
        night = night_draw < style.night_shift_share
        habits.shift = "night" if night else "evening"
        habits.start_hour = (21.5 if night else 14.5) + shift_start
        habits.start_sd = min(habits.start_sd, 0.3)
        habits.after_hours = 0.0  # the shift is the working day; no second session on top
        habits.weekend = max(habits.weekend, 0.25 + 0.25 * rotation)  # weekend rotations
    if shared_draw < style.shared_machine_share.get(profile_name, 0.0):
        habits.shared_machine = 0.6
    return habits


def _vacation_days(rng: random.Random, days: int) -> set[int]:
    """Two or three blocks of holidays a year, one to two weeks each."""
    vacation: set[int] = set()
    for year_start in range(-rng.randrange(0, 365), days, 365):
        for _ in range(rng.choice((2, 2, 3))):
            begin = year_start + rng.randrange(0, 365)
            vacation.update(range(begin, begin + rng.choice((5, 7, 9, 12, 14))))
    return {d for d in vacation if 0 <= d < days}


def _unused(taken: set[str], draw: Callable[[], str], attempts: int = 100_000) -> str:
    """Draw until the value is not taken yet; take it (a space that has run out is an
    error, not a loop without end)."""
    for _ in range(attempts):
        if (candidate := draw()) not in taken:
            taken.add(candidate)
            return candidate
    raise ValueError(f"no unused value in {attempts:,} draws ({len(taken):,} taken)")


def _user_id(name: str, taken: set[str], rng: random.Random) -> str:
    letters = "".join(part[0] for part in name.split()[:3]).upper().ljust(3, "X")
    return _unused(taken, lambda: f"{letters}{rng.randrange(1000, 10000)}")


def _name(rng: random.Random, taken: set[str]) -> str:
    return _unused(taken, lambda: f"{rng.choice(FIRST_NAMES)} {rng.choice(FIRST_NAMES)}"
                                  f" {rng.choice(LAST_NAMES)}")


def _email(name: str, domain: str) -> str:
    return ".".join(name.split()) + "@" + domain


def _personal_email(name: str, rng: random.Random) -> str:
    first, *_, last = name.split()
    number = rng.randrange(10, 99)
    return f"{first.lower()}.{last.lower()}{number}@{rng.choice(PERSONAL_MAIL_DOMAINS)}"


def pc_digits(people: int) -> int:
    """Digits of a computer's number for an organisation of ``people``: four (CERT's
    ``PC-1234``) while they leave ample room, more for a larger one (four allow 9,000 names,
    and drawing an unused one slows and then never ends as they run out).

    >>> pc_digits(1000), pc_digits(10000), pc_digits(100000)
    (4, 6, 7)
    """
    return 4 if people <= 3000 else max(5, len(str(people * 20)))


def _pc(rng: random.Random, taken: set[str], digits: int) -> str:
    return _unused(taken, lambda: f"PC-{rng.randrange(10 ** (digits - 1), 10 ** digits)}")


def build_organisation(users: int, days: int, start: date, seed: int,
                       domain: str = "dtaa.com",
                       style: OrganisationStyle = BASELINE) -> Organisation:
    """Invent a company of ``users`` people over ``days`` days (joiners and leavers included),
    their habits drawn in the company culture ``style``.

    >>> org = build_organisation(120, 90, date(2010, 1, 4), seed=1)
    >>> len(org.people), len({p.user_id for p in org.people})
    (120, 120)
    """
    if users < 40:
        raise ValueError("an organisation needs at least 40 people")
    rng = random.Random(f"organisation/{seed}")
    taken_ids: set[str] = set()
    taken_names: set[str] = set()
    taken_pcs: set[str] = set()
    digits = pc_digits(users)
    people: list[Person] = []
    projects: dict[str, Project] = {}

    def add(role: str, unit: str, department: str, team: str, supervisor: int | None,
            team_projects: tuple[str, ...]) -> int:
        name = _name(rng, taken_names)
        profile = profile_for_role(role)
        user_id = _user_id(name, taken_ids, rng)
        person = Person(
            index=len(people), user_id=user_id, name=name,
            email=_email(name, domain), role=role, profile=profile,
            business_unit="1 - Battery and Power Systems", functional_unit=unit,
            department=department, team=team, projects=team_projects, supervisor=supervisor,
            pc=_pc(rng, taken_pcs, digits), hire_day=-rng.randrange(30, 3000), leave_day=None,
            habits=_person_habits(profile, rng, days, style, seed, user_id),
            personal_email=_personal_email(name, rng),
        )
        people.append(person)
        return person.index

    president = add("President", "Executive", "Executive Office", "Executive Office", None, ())
    team_size = style.team_size
    for (unit, all_departments, roles), share in zip(_STRUCTURE, _UNIT_SHARE, strict=True):
        # a small company has fewer departments, not departments of one person
        departments = all_departments[:max(1, round(len(all_departments) * min(1.0,
                                                                                users / 300)))]
        unit_people = max(len(departments) * 4, round(users * share))
        director = add("Director", unit, departments[0], f"{unit} Office", president, ())
        per_department = max(4, unit_people // len(departments))
        for department in departments:
            head = add("Manager", unit, department, f"{department} Office", director, ())
            topics = _DEPARTMENT_TOPICS[department]
            n_teams = max(1, round(per_department / team_size))
            names = [f"{department} {chr(65 + t)}" for t in range(n_teams)]
            for number, topic in enumerate(topics):
                language = "zh" if rng.random() < 0.3 else "en"
                mine = tuple(names[number::len(topics)]) or (names[0],)
                project = f"{topic.upper()}-{rng.randrange(10, 99)}"
                projects[project] = Project(project, topic, language, department, mine,
                                            topic in _CROWN_JEWEL_TOPICS)
            for team in names:
                team_projects = tuple(p.name for p in projects.values() if team in p.teams)
                lead = add("Team Lead", unit, department, team, head, team_projects)
                members = max(2, min(team_size, per_department // n_teams) - 1)
                for _ in range(members):
                    role = rng.choices([r for r, _ in roles], [w for _, w in roles])[0]
                    add(role, unit, department, team, lead, team_projects)
    # trim or grow to the requested head count, keeping every manager
    managers = {p.supervisor for p in people if p.supervisor is not None}
    while len(people) > users:
        victim = next(p for p in reversed(people) if p.index not in managers)
        people.remove(victim)
    while len(people) < users:
        template = people[rng.randrange(len(people))]
        if template.index in managers or template.supervisor is None:
            continue
        index = add(template.role, template.functional_unit, template.department,
                    template.team, template.supervisor, template.projects)
        assert index == len(people) - 1
    new_index = {person.index: number for number, person in enumerate(people)}
    for person in people:
        person.index = new_index[person.index]
        if person.supervisor is not None:
            person.supervisor = new_index[person.supervisor]
    org = Organisation("DTAA", domain, start, days, people, projects,
                       shared_pcs=[_pc(rng, taken_pcs, digits)
                                   for _ in range(max(3, users // 50))],
                       style=style)
    _joiners_and_leavers(org, rng)
    org.shared_pcs += _style_shared_pcs(style, seed, len(people), taken_pcs)
    org.index()
    return org


def _style_shared_pcs(style: OrganisationStyle, seed: int, people: int,
                      taken: set[str]) -> list[str]:
    """The shared machines a style adds (line and lab stations), from a stream of their own."""
    rng = random.Random(f"shared-pcs/{seed}")
    return [_pc(rng, taken, pc_digits(people))
            for _ in range(round(people * style.shared_machines_per_100 / 100))]


def _joiners_and_leavers(org: Organisation, rng: random.Random) -> None:
    """About 14 % a year leave (most resign, some are let go); as many join."""
    years = org.days / 365
    managers = {p.supervisor for p in org.people if p.supervisor is not None}
    ordinary = [p for p in org.people if p.index not in managers]
    rng.shuffle(ordinary)
    leavers = round(len(org.people) * 0.14 * years)
    joiners = round(len(org.people) * 0.12 * years)
    for person in ordinary[:leavers]:
        person.leave_day = rng.randrange(20, max(21, org.days - 5))
        person.departure = "terminated" if rng.random() < 0.15 else "resign"
    for person in ordinary[leavers:leavers + joiners]:
        person.hire_day = rng.randrange(10, max(11, org.days - 20))


_SNAPSHOT = re.compile(r"^(\d{4})-(\d{2})\.csv$")


def organisation_from_ldap(folder: Path, days: int, start: date, seed: int,
                           style: OrganisationStyle = BASELINE) -> Organisation:
    """The organisation of CERT-layout monthly LDAP files (``YYYY-MM.csv``) in ``folder``.

    People, names, e-mail addresses, roles, units, teams, projects and supervisors are those of
    the last snapshot in which each person appears; a person first seen in a later month joins
    during that month, and one missing from a month has left during the month before. Habits
    are drawn in the company culture ``style`` (its team size does not apply: the files say).
    """
    files = sorted(p for p in folder.iterdir() if _SNAPSHOT.match(p.name)) if folder.is_dir() \
        else []
    if not files:
        raise SourceError("no monthly LDAP files (YYYY-MM.csv) found", where=str(folder))
    rng = random.Random(f"organisation/{seed}")
    months: list[date] = []
    rows_by_user: dict[str, dict[str, str]] = {}
    present: dict[str, list[int]] = {}
    for number, path in enumerate(files):
        match = _SNAPSHOT.match(path.name)
        assert match
        months.append(date(int(match.group(1)), int(match.group(2)), 1))
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = {"employee_name", "user_id", "email", "role", "supervisor"} - set(
                reader.fieldnames or ())
            if missing:
                raise SourceError(f"not a CERT LDAP file (missing {', '.join(sorted(missing))})",
                                  where=str(path))
            for line, row in enumerate(reader, start=2):
                user = (row.get("user_id") or "").strip()
                if not user:
                    raise SourceError("empty user_id", where=f"{path}:{line}")
                rows_by_user[user] = {k: (v or "").strip() for k, v in row.items() if k}
                present.setdefault(user, []).append(number)
    by_name = {row["employee_name"]: user for user, row in rows_by_user.items()}
    people: list[Person] = []
    taken_pcs: set[str] = set()
    digits = pc_digits(len(rows_by_user))
    projects: dict[str, Project] = {}
    for user in sorted(rows_by_user, key=lambda u: (present[u][0], u)):
        row = rows_by_user[user]
        first, last = present[user][0], present[user][-1]
        hire = -rng.randrange(30, 3000) if first == 0 else _day_in_month(
            months[first], start, rng)
        leave = None if last == len(months) - 1 else _day_in_month(
            months[last], start, rng, not_before=max(hire + 1, 1))
        role = row.get("role") or "Employee"
        profile = profile_for_role(role)
        team = row.get("team") or row.get("department") or "Unassigned"
        member_of = tuple(p.strip() for p in (row.get("projects") or "").split(";") if p.strip())
        for name in member_of:
            project = projects.setdefault(name, Project(
                name, rng.choice(sorted(TOPICS)), "zh" if rng.random() < 0.3 else "en",
                row.get("department", ""), (), rng.random() < 0.4))
            if team not in project.teams:
                project.teams = (*project.teams, team)
        people.append(Person(
            index=len(people), user_id=user, name=row["employee_name"], email=row["email"],
            role=role, profile=profile, business_unit=row.get("business_unit", ""),
            functional_unit=row.get("functional_unit", ""),
            department=row.get("department", ""), team=team, projects=member_of,
            supervisor=None, pc=_pc(rng, taken_pcs, digits), hire_day=hire, leave_day=leave,
            habits=_person_habits(profile, rng, days, style, seed, user),
            personal_email=_personal_email(row["employee_name"], rng),
        ))
    index_of = {p.user_id: p.index for p in people}
    for person in people:
        boss = rows_by_user[person.user_id].get("supervisor", "")
        person.supervisor = index_of.get(by_name.get(boss, boss))
    _give_teams_projects(people, projects, rng)
    domain = people[0].email.rpartition("@")[2].lower() if people else "dtaa.com"
    org = Organisation("DTAA", domain, start, days, people, projects,
                       shared_pcs=[_pc(rng, taken_pcs, digits)
                                   for _ in range(max(3, len(people) // 50))],
                       ldap_files=files, style=style)
    org.shared_pcs += _style_shared_pcs(style, seed, len(people), taken_pcs)
    org.index()
    return org


def _give_teams_projects(people: list[Person], projects: dict[str, Project],
                         rng: random.Random) -> None:
    """Teams without a project in the LDAP files get one of their department's own."""
    by_team: dict[str, list[Person]] = {}
    for person in people:
        if not person.projects:
            by_team.setdefault(person.team, []).append(person)
    for team, members in sorted(by_team.items()):
        name = "PRJ-" + re.sub(r"[^A-Za-z0-9]+", "", team)[:12].upper()
        projects.setdefault(name, Project(name, rng.choice(sorted(TOPICS)),
                                          "zh" if rng.random() < 0.3 else "en",
                                          members[0].department, (team,), rng.random() < 0.4))
        for person in members:
            person.projects = (name,)


def _day_in_month(month: date, start: date, rng: random.Random, not_before: int = 0) -> int:
    """A day index inside ``month`` (and not before ``not_before``)."""
    length = calendar.monthrange(month.year, month.month)[1]
    first = (month - start).days
    low = max(first, not_before)
    high = max(low + 1, first + length)
    return rng.randrange(low, high)


def ldap_rows(org: Organisation, month: date) -> Sequence[Person]:
    """People employed on some day of ``month``, in a stable order."""
    length = calendar.monthrange(month.year, month.month)[1]
    first = (month - org.start).days
    last = first + length - 1
    return [p for p in org.people
            if p.hire_day <= last and (p.leave_day is None or p.leave_day > first)]

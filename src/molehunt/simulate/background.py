"""Benign background behaviour: what everybody does every day, insiders included.

Each person-day draws from its own random stream (seed, day, person), so a scenario that changes
one person never changes what anybody else does, and the same seed gives the same bytes.
Activity follows the person's habits (:class:`~molehunt.simulate.organisation.Habits`) bent by
the weekday, the season, a slow personal drift, team deadlines, travel and chance.
"""

from __future__ import annotations

import bisect
import functools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import accumulate
from typing import Any, TypeVar

from molehunt.domains import load_domain_categories
from molehunt.simulate.buffer import DayBuffer, Label, Session
from molehunt.simulate.documents import Document, sentence
from molehunt.simulate.organisation import WEB_CATEGORIES, Habits, Organisation, Person
from molehunt.simulate.vocabulary import (
    ANALYST_DOMAINS,
    GENERAL_DOMAINS,
    PARTNER_DOMAINS,
    PERSONAL_MAIL_DOMAINS,
    TOPICS,
    WEB_WORDS,
)

_CATEGORIES = load_domain_categories()
T = TypeVar("T")
_PAGES_PER_SITE = 40  # distinct pages people visit on one site
_TEXTS_PER_CATEGORY = 64  # distinct keyword lines of pages of one category
_WEEKDAY = (1.05, 1.02, 1.0, 0.98, 0.88, 1.0, 1.0)
_MONTH = (0.95, 1.0, 1.02, 1.0, 1.0, 0.97, 0.9, 0.82, 1.02, 1.05, 1.03, 0.85)


@functools.cache
def domains_of(category: str) -> tuple[str, ...]:
    """Domains of a web category (``general`` is the uncategorised rest of the web)."""
    if category == "general":
        return tuple(GENERAL_DOMAINS)
    return tuple(d for d in _CATEGORIES.domains(category) if "." in d)


def mail_channel(address: str, company_domain: str) -> str:
    """The channel of mail to or from ``address``, decided as the e-mail sources decide it."""
    domain = address.rpartition("@")[2].lower()
    if _CATEGORIES.category(domain) == "webmail":
        return "webmail"
    return "email_internal" if domain == company_domain else "email_external"


def holidays(start: date, days: int) -> set[int]:
    """Day indices of company holidays (fixed and floating US-style holidays)."""
    result: set[int] = set()
    for year in range(start.year, (start + timedelta(days=days)).year + 1):
        fixed = [date(year, 1, 1), date(year, 7, 4), date(year, 12, 24), date(year, 12, 25),
                 date(year, 12, 31)]
        may_end = date(year, 5, 31)
        fixed.append(may_end - timedelta(days=may_end.weekday()))
        september = date(year, 9, 1)
        fixed.append(september + timedelta(days=(7 - september.weekday()) % 7))
        november = date(year, 11, 1)
        fixed.append(november + timedelta(days=(3 - november.weekday()) % 7 + 21))
        result.update((d - start).days for d in fixed)
    return {d for d in result if 0 <= d < days}


@dataclass
class PersonState:
    """What the generator keeps per person: favourite sites and correspondents."""

    web_domains: list[tuple[str, str]]
    web_weights: list[float]
    partners: list[str]
    friends: list[str]
    readable: list[Document]  # documents the person reads in the normal course of work
    read_weights: list[float]
    own: list[Document]  # documents of the person's own projects
    #: (domain, category, its pages, its page texts) in the order of ``web_domains``
    web_sites: list[tuple[str, str, list[str], list[str]]] | None = None


@dataclass
class World:
    """Everything about the simulated company the day generator needs."""

    org: Organisation
    documents: list[Document]
    seed: int
    holidays: set[int]
    bursts: dict[str, set[int]]  # team → days of deadline pressure
    travel: dict[int, set[int]]  # person index → travelling days
    meetings: dict[int, list[dict[str, Any]]]  # day → meetings
    #: (day, department, indices of the people laid off) of each layoff wave
    layoffs: list[tuple[int, str, set[int]]] = field(default_factory=list)
    #: hires and departures come from a directory: scenarios must not move them
    fixed_tenure: bool = False
    states: dict[int, PersonState] = field(default_factory=dict)
    web_content: dict[str, list[str]] = field(default_factory=dict)
    topic_content: dict[str, list[str]] = field(default_factory=dict)
    site_pages: dict[str, list[str]] = field(default_factory=dict)
    #: (department, projects, corpus size) → (readable, cumulative read weights, own): the
    #: same lists for everyone with the same key (a team), which would otherwise grow as
    #: people × documents (a 10,000-person organisation did not fit in 8 GiB)
    reading_lists: dict[tuple[str, tuple[str, ...], int],
                        tuple[list[Document], list[float], list[Document]]] = field(
        default_factory=dict)

    def state(self, person: Person) -> PersonState:
        """The person's favourites, made once on first use."""
        state = self.states.get(person.index)
        if state is None:
            state = self.states[person.index] = _person_state(self, person)
        return state

    def web_pool(self, category: str) -> list[str]:
        """Keyword lines of pages of the category (CERT's ``content``), made once."""
        pool = self.web_content.get(category)
        if pool is None:
            words = WEB_WORDS[category].split()
            text_rng = random.Random(f"web/{category}/{self.seed}")
            pool = self.web_content[category] = [
                " ".join(choice(text_rng, words) for _ in range(text_rng.randrange(6, 18)))
                for _ in range(_TEXTS_PER_CATEGORY)]
        return pool

    def web_text(self, category: str, rng: random.Random) -> str:
        """Keywords of a page of the category."""
        return choice(rng, self.web_pool(category))

    def urls(self, domain: str, category: str) -> list[str]:
        """The pages of a site that people visit, made once per site."""
        pages = self.site_pages.get(domain)
        if pages is None:
            rng = random.Random(f"site/{domain}/{self.seed}")
            pages = self.site_pages[domain] = [url_for(domain, category, rng)
                                               for _ in range(_PAGES_PER_SITE)]
        return pages

    def message_text(self, topic: str, language: str, rng: random.Random) -> str:
        """A few sentences about a topic, for an e-mail body."""
        key = f"{topic}/{language}"
        pool = self.topic_content.get(key)
        if pool is None:
            english, chinese = TOPICS[topic]
            words = (chinese if language == "zh" else english).split()
            text_rng = random.Random(f"mail/{key}/{self.seed}")
            pool = self.topic_content[key] = [
                " ".join(sentence(text_rng, words, language)
                         for _ in range(text_rng.randrange(1, 4))) for _ in range(96)]
        return choice(rng, pool)


def _person_state(world: World, person: Person) -> PersonState:
    rng = random.Random(f"state/{world.seed}/{person.user_id}")
    domains: list[tuple[str, str]] = []
    weights: list[float] = []
    for category, share in zip(WEB_CATEGORIES, person.habits.web_mix, strict=True):
        if share <= 0:
            continue
        pool = domains_of(category)
        if not pool:
            continue
        favourites = rng.sample(pool, min(len(pool), 25 if category == "general" else 4))
        zipf = [1.0 / (rank + 1) for rank in range(len(favourites))]
        total = sum(zipf)
        domains += [(d, category) for d in favourites]
        weights += [share * z / total for z in zipf]
    partners = rng.sample(PARTNER_DOMAINS, 6 if person.profile == "sales" else 3)
    if person.profile in {"sales", "executive"}:
        partners.append(choice(rng, ANALYST_DOMAINS))
    contacts = [f"{choice(rng, 'abcdefghjklmnprstw')}{choice(rng, ('smith', 'lee', 'chen', 'kim'))}"
                f"{rng.randrange(1, 99)}@{domain}" for domain in partners for _ in range(2)]
    friends = [f"friend{rng.randrange(100, 999)}@{choice(rng, sorted(PERSONAL_MAIL_DOMAINS))}"
               for _ in range(3)] + [person.personal_email]
    readable, read_weights, own = _reading_list(world, person)
    return PersonState(domains, list(accumulate(weights)), contacts, friends, readable,
                       read_weights, own)


def _reading_list(world: World, person: Person
                  ) -> tuple[list[Document], list[float], list[Document]]:
    """The documents the person reads at work, their cumulative weights and the person's own
    projects' documents; shared (not copied) by everyone of the same department and
    projects. Callers only read them."""
    key = (person.department, tuple(person.projects), len(world.documents))
    found = world.reading_lists.get(key)
    if found is not None:
        return found
    own_projects = set(person.projects)
    # where everybody works on everything, people read beyond their own department
    reach = world.org.style.cross_reading
    readable: list[Document] = []
    read_weights: list[float] = []
    own: list[Document] = []
    for document in world.documents:
        if document.project in own_projects:
            weight = 10.0
            own.append(document)
        elif document.department == person.department:
            weight = 0.8 if document.sensitivity <= 2 else 0.15
        elif document.sensitivity <= 1:
            weight = 0.05 + reach
        elif document.sensitivity <= 2 and reach:
            weight = reach
        else:
            continue
        readable.append(document)
        read_weights.append(weight)
    found = world.reading_lists[key] = (readable, list(accumulate(read_weights)), own)
    return found


def person_rng(seed: int, day: int, person: Person, purpose: str = "day") -> random.Random:
    """The random stream of one person on one day for one purpose."""
    return random.Random(f"{purpose}/{seed}/{day}/{person.user_id}")


def choice(rng: random.Random, items: Sequence[T]) -> T:
    """One item, drawn with exactly one ``random()`` whatever the length.

    ``random.Random.choice`` draws a varying number of bits depending on the length, so a
    colleague who joins or leaves would shift everybody's later draws.
    """
    return items[int(rng.random() * len(items))]


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth for small means, a rounded normal for large ones)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def activity_level(world: World, person: Person, day: int, rng: random.Random) -> float:
    """How busy the person is today relative to their own habit."""
    when = world.org.day_date(day)
    habits = person.habits
    years = day / 365.0
    drift = math.exp(habits.drift * years + 0.08 * math.sin(6.283 * years + habits.drift_phase))
    burst = 1.35 if day in world.bursts.get(person.team, ()) else 1.0
    noise = rng.lognormvariate(0.0, 0.25)
    return _WEEKDAY[when.weekday()] * _MONTH[when.month - 1] * drift * burst * noise


def plan_session(world: World, person: Person, day: int, rng: random.Random) -> Session | None:
    """Whether and when the person works today (in company time, even when abroad)."""
    session = _working_hours(world, person, day, rng)
    if session is not None and session.travelling and world.org.style.time_zone_trips > 0:
        return _abroad(world, person, day, session)
    return session


def _working_hours(world: World, person: Person, day: int,
                   rng: random.Random) -> Session | None:
    habits = person.habits
    when = world.org.day_date(day)
    weekend = when.weekday() >= 5
    travelling = day in world.travel.get(person.index, ())
    if day in habits.vacation or rng.random() < habits.sick_rate:
        return None
    if habits.shift != "day":
        return _shift(habits, rng, weekend or day in world.holidays,
                      day in world.bursts.get(person.team, ()), travelling)
    if weekend or day in world.holidays:
        if rng.random() >= habits.weekend:
            return None
        start = int(rng.uniform(9.5, 15.0) * 3600)
        return Session(start, min(86399, start + int(rng.uniform(0.5, 3.5) * 3600)))
    burst = day in world.bursts.get(person.team, ())
    start = int(min(11.5, max(5.5, rng.gauss(habits.start_hour, habits.start_sd))) * 3600)
    length = rng.gauss(habits.day_hours + (0.8 if burst else 0.0), 0.5)
    end = min(int(start + max(3.0, length) * 3600), 86399)
    evening = None
    if rng.random() < min(0.95, habits.after_hours * (2.0 if burst else 1.0)):
        begin = max(end + 1800, int(rng.uniform(19.5, 22.0) * 3600))
        if begin < 86000:
            evening = (begin, min(86399, begin + int(rng.uniform(0.3, 1.8) * 3600)))
    # an incident, a call with another time zone, a sleepless night: people do work at night
    night = 0.02 if person.profile in {"it_admin", "security"} else 0.002
    if evening is None and rng.random() < night * (3.0 if travelling else 1.0):
        begin = int(rng.uniform(0.2, 4.5) * 3600)
        evening = (begin, begin + int(rng.uniform(0.2, 1.2) * 3600))
    return Session(start, end, evening, travelling)


def _shift(habits: Habits, rng: random.Random, day_off: bool, burst: bool,
           travelling: bool) -> Session | None:
    """A shift worker's day: an evening shift, or a night shift, which runs past midnight, so
    a day holds the end of last night's shift and the start of tonight's."""
    if day_off and rng.random() >= habits.weekend:  # weekend and holiday rotations
        return None
    begin = rng.gauss(habits.start_hour, habits.start_sd)
    length = max(4.0, rng.gauss(habits.day_hours + (0.8 if burst else 0.0), 0.5))
    if habits.shift == "evening":
        start = int(min(17.0, max(12.0, begin)) * 3600)
        return Session(start, min(86399, start + int(length * 3600)), None, travelling)
    start = int(min(23.5, max(20.0, begin)) * 3600)
    morning_end = int(max(1.0, begin + length - 24.0) * 3600)
    return Session(int(rng.uniform(0.0, 0.2) * 3600), morning_end, (start, 86399), travelling)


#: Hours a trip's time zone is ahead (+) of the company's or behind it (-).
_TIME_ZONES = (-9, -8, -7, -6, -5, 5, 6, 7, 8, 9)


def _abroad(world: World, person: Person, day: int, session: Session) -> Session:
    """The session of a traveller who works local office hours in another time zone: the
    company's clock sees it shifted (and cut at midnight). Every day of a trip is in the same
    zone, drawn from a stream of the trip's own."""
    trip_days = world.travel[person.index]
    first = day
    while first - 1 in trip_days:
        first -= 1
    trip = random.Random(f"trip/{world.seed}/{person.user_id}/{first}")
    crosses, zone = trip.random(), choice(trip, _TIME_ZONES)
    if crosses >= world.org.style.time_zone_trips:
        return session
    spans = [(max(0, begin - zone * 3600), min(86399, end - zone * 3600))
             for begin, end in session.spans()]
    spans = [(begin, end) for begin, end in spans if end - begin >= 600]
    if not spans:
        return session
    return Session(spans[0][0], spans[0][1], spans[1] if len(spans) > 1 else None, True)


def _time_in(session: Session, rng: random.Random) -> int:
    if session.evening is not None and rng.random() < 0.25:
        low, high = session.evening
    else:
        low, high = session.start, session.end
    return low + int(rng.random() * (high - low))


def _pick(rng: random.Random, items: list[Any], cumulative: list[float]) -> Any:
    return items[bisect.bisect(cumulative, rng.random() * cumulative[-1])]


def simulate_person_day(world: World, person: Person, day: int, buffer: DayBuffer) -> None:
    """Append one person's benign activity of the day to ``buffer``."""
    rng = person_rng(world.seed, day, person)
    session = plan_session(world, person, day, rng)
    if session is None:
        return
    buffer.sessions[person.index] = session
    habits = person.habits
    state = world.state(person)
    level = activity_level(world, person, day, rng)
    if session.end - session.start < 5 * 3600:  # weekend: a short look at things
        level *= 0.3
    if session.travelling:
        level *= 0.6
    user, pc = person.user_id, person.pc
    own_pc = pc if rng.random() > habits.shared_machine else world.org.shared_pcs[
        rng.randrange(len(world.org.shared_pcs))]
    for begin, end in session.spans():
        buffer.logon.append([begin, user, own_pc, "Logon", None])
        for _ in range(poisson(rng, 0.5)):  # unlocking the screen after a break
            buffer.logon.append([begin + int(rng.random() * (end - begin)), user, own_pc,
                                 "Logon", None])
        buffer.logon.append([end, user, own_pc, "Logoff", None])
    _other_machines(world, person, rng, session, level, buffer)
    _web(world, person, state, rng, session, level, buffer)
    _mail(world, person, state, rng, session, level, buffer)
    _files(world, person, state, rng, session, level, buffer, own_pc)
    if person.notice_day is not None and person.leave_day is not None:
        _leaving(world, person, state, session, buffer, own_pc)
    if "declared_consultant" in person.lookalikes:
        _consulting(world, person, session, buffer)
    for _ in range(poisson(rng, habits.print_jobs * level)):
        document = _pick(rng, state.readable, state.read_weights) if state.readable else None
        buffer.other.append([_time_in(session, rng), user, {
            "user_id": user, "host": own_pc, "source": "sim.print", "action": "print",
            "channel": "printer", "object": document.path if document else "report.pdf",
            "target": "PRN-" + person.department[:3].upper(),
            "bytes": document.size if document else rng.randrange(20_000, 900_000),
            "doc_id": document.doc_id if document else None,
            "sensitivity": document.sensitivity if document else None,
            "attrs": {"pages": rng.randrange(1, 40)}}, None])


def declared_intermediary(seed: int, person: Person) -> str:
    """The expert network a declared consultant works through (as declared to HR)."""
    return choice(random.Random(f"consultant/{seed}/{person.user_id}"),
                  domains_of("expert_network"))


def _consulting(world: World, person: Person, session: Session, buffer: DayBuffer) -> None:
    """A declared consultant talks to their intermediary now and then about public matters."""
    rng = person_rng(world.seed, buffer.day, person, "consulting")
    if rng.random() >= 0.1:
        return
    row = email_row(_time_in(session, rng), person,
                    [f"experts@{declared_intermediary(world.seed, person)}"],
                    world.web_text("expert_network", rng), [], rng)
    buffer.email.append(row)
    buffer.email_by_person.setdefault(person.index, []).append(row)


def _leaving(world: World, person: Person, state: PersonState, session: Session,
             buffer: DayBuffer, pc: str) -> None:
    """What honest people do before they go: most look for a job in the weeks before their
    notice; after it they hand documents over and take their own files home."""
    day, notice, leave = buffer.day, person.notice_day or 0, person.leave_day or 0
    rng = person_rng(world.seed, day, person, "leaving")
    searches = person.searches_before_leaving and random.Random(
        f"searches/{world.seed}/{person.user_id}").random() < 0.7
    if searches and notice - 45 <= day < leave:
        boards = domains_of("job_board")
        for _ in range(poisson(rng, 2.5)):
            domain = choice(rng, boards)
            buffer.http.append([_time_in(session, rng), person.user_id, person.pc,
                                url_for(domain, "job_board", rng), "WWW Visit",
                                world.web_text("job_board", rng), None, (domain, "job_board")])
    if not notice <= day < leave or not state.own:
        return
    if rng.random() < 0.3:
        team = [world.org.people[i] for i in world.org.teams.get(person.team, [])
                if i != person.index and world.org.people[i].employed(day)]
        if team:
            documents = [choice(rng, state.own) for _ in range(1 + int(rng.random() * 2))]
            row = email_row(_time_in(session, rng), person, [choice(rng, team).email],
                            "handover of my documents", documents, rng)
            buffer.email.append(row)
            buffer.email_by_person.setdefault(person.index, []).append(row)
    if person.habits.media_days and rng.random() < 0.2:
        connect = _time_in(session, rng)
        buffer.device.append([connect, person.user_id, pc, "Connect", "R:\\", None])
        for _ in range(1 + int(rng.random() * 3)):
            document = choice(rng, state.own)
            if document.sensitivity <= 1 and document.created <= day:
                buffer.file.append(file_row(min(86399, connect + 60), person, pc, document,
                                            "R:\\" + document.path.rsplit("\\", 1)[1],
                                            "File Copy", rng, to_media=True))
        buffer.device.append([min(86399, connect + 600), person.user_id, pc, "Disconnect",
                              None, None])


def _other_machines(world: World, person: Person, rng: random.Random, session: Session,
                    level: float, buffer: DayBuffer) -> None:
    count = poisson(rng, person.habits.other_machines * level)
    if not count:
        return
    pool = world.org.people if person.profile in {"it_admin", "security"} else [
        world.org.people[i] for i in world.org.departments.get(person.department, [])]
    for _ in range(count):
        target = choice(rng, pool)
        at = _time_in(session, rng)
        buffer.logon.append([at, person.user_id, target.pc, "Logon", None])
        buffer.logon.append([min(86399, at + rng.randrange(120, 2400)), person.user_id,
                             target.pc, "Logoff", None])


def url_for(domain: str, category: str, rng: random.Random, upload: bool = False) -> str:
    """A URL on the domain whose path words fit the category."""
    words = WEB_WORDS[category].split()
    verb = "upload" if upload else choice(rng, words)
    return f"http://{domain}/{verb}/{choice(rng, words)}{rng.randrange(1, 99)}.html"


def _web(world: World, person: Person, state: PersonState, rng: random.Random,
         session: Session, level: float, buffer: DayBuffer) -> None:
    if not state.web_domains:
        return
    user, pc = person.user_id, person.pc
    count = poisson(rng, person.habits.http * level)
    if count:
        if state.web_sites is None:
            state.web_sites = [(domain, category, world.urls(domain, category),
                                world.web_pool(category))
                               for domain, category in state.web_domains]
        low, width = session.start, session.end - session.start
        evening = session.evening
        random_ = rng.random
        append = buffer.http.append
        for site in rng.choices(state.web_sites, cum_weights=state.web_weights, k=count):
            if evening is not None and random_() < 0.25:
                at = evening[0] + int(random_() * (evening[1] - evening[0]))
            else:
                at = low + int(random_() * width)
            # the site tuple starts with (domain, category): it serves as the row's domain
            append([at, user, pc, site[2][int(random_() * _PAGES_PER_SITE)],
                    "WWW Download" if random_() < 0.03 else "WWW Visit",
                    site[3][int(random_() * _TEXTS_PER_CATEGORY)], None, site])
    uploads = poisson(rng, person.habits.cloud_uploads * level)
    if uploads and state.own:
        clouds = [d for d in state.web_domains if d[1] == "cloud_storage"] or [
            (domains_of("cloud_storage")[0], "cloud_storage")]
        for _ in range(uploads):
            document = choice(rng, state.own)
            if document.sensitivity >= 3:
                continue  # people do not put secrets on their own cloud folders
            domain, category = choice(rng, clouds)
            buffer.http.append([_time_in(session, rng), user, pc,
                                url_for(domain, category, rng, upload=True), "WWW Upload",
                                excerpt(document, rng, 300), None, (domain, category),
                                document])


def excerpt(document: Document, rng: random.Random, length: int) -> str:
    """A contiguous piece of the document's text, about ``length`` characters, on one line."""
    text = document.text
    begin = rng.randrange(0, max(1, len(text) - length))
    return " ".join(text[begin:begin + length].split())


def email_row(sec: int, person: Person, to: list[str], content: str,
              attachments: list[Document], rng: random.Random, *, cc: list[str] | None = None,
              activity: str = "Send", sender: str | None = None,
              label: Label | None = None) -> list[Any]:
    """An e-mail row as the buffer keeps it."""
    listed = [(d.path, d.size) for d in attachments]
    size = len(content.encode()) + rng.randrange(2_000, 30_000) + sum(d.size for d in attachments)
    return [sec, person.user_id, person.pc, to, cc or [], [], sender or person.email, activity,
            size, listed, content, label, attachments]


def _mail(world: World, person: Person, state: PersonState, rng: random.Random,
          session: Session, level: float, buffer: DayBuffer) -> None:
    habits = person.habits
    org = world.org
    project = org.projects.get(person.projects[0]) if person.projects else None
    topic, language = (project.topic, project.language) if project else ("corporate", "en")
    team = [i for i in org.teams.get(person.team, []) if i != person.index
            and org.people[i].employed(buffer.day)]
    department = org.departments.get(person.department, [])
    rows = buffer.email_by_person.setdefault(person.index, [])

    def colleagues(k: int) -> list[str]:
        chosen = []
        for _ in range(k):
            pool = team if team and rng.random() < 0.65 else department
            if pool:
                chosen.append(org.people[choice(rng, pool)].email)
        if person.supervisor is not None and rng.random() < 0.1:
            chosen.append(org.people[person.supervisor].email)
        return sorted(set(chosen)) or [org.people[rng.randrange(len(org.people))].email]

    def attachments(chance: float, max_sensitivity: int) -> list[Document]:
        if not state.own or rng.random() >= chance:
            return []
        document = choice(rng, state.own)
        return [document] if document.sensitivity <= max_sensitivity else []

    for _ in range(poisson(rng, habits.email_internal * level)):
        row = email_row(_time_in(session, rng), person, colleagues(choice(rng, (1, 1, 2, 3))),
                        world.message_text(topic, language, rng),
                        attachments(habits.attach, 4), rng,
                        cc=colleagues(1) if rng.random() < 0.25 else None)
        buffer.email.append(row)
        rows.append(row)
    for _ in range(poisson(rng, habits.email_external * level)):
        row = email_row(_time_in(session, rng), person, [choice(rng, state.partners)],
                        world.message_text("market" if person.profile == "sales" else topic,
                                           "en", rng),
                        attachments(habits.attach * 0.5, 1), rng)
        buffer.email.append(row)
        rows.append(row)
    for _ in range(poisson(rng, habits.webmail * level)):
        row = email_row(_time_in(session, rng), person, [choice(rng, state.friends)],
                        world.web_text("social", rng), attachments(0.05, 1), rng)
        buffer.email.append(row)
        rows.append(row)
    for _ in range(poisson(rng, habits.email_external * 0.6 * level)):
        sender = choice(rng, state.partners)
        buffer.email.append(email_row(_time_in(session, rng), person, [person.email],
                                      world.message_text("market", "en", rng), [], rng,
                                      activity="View", sender=sender))


def file_row(sec: int, person: Person, pc: str, document: Document | None, path: str,
             activity: str, rng: random.Random, *, to_media: bool = False,
             from_media: bool = False, content: str | None = None,
             label: Label | None = None) -> list[Any]:
    """A file row as the buffer keeps it (content: the start of the document by default)."""
    if content is None:
        length = 600 if activity in {"File Copy", "File Write"} else 160
        content = " ".join(document.text[:length].split()) if document else "MZ executable"
    return [sec, person.user_id, pc, path, activity, to_media, from_media, content, label,
            document]


def _files(world: World, person: Person, state: PersonState, rng: random.Random,
           session: Session, level: float, buffer: DayBuffer, pc: str) -> None:
    habits = person.habits
    rows = buffer.file_by_person.setdefault(person.index, [])
    created_by = buffer.day
    if state.readable:
        for _ in range(poisson(rng, habits.opens * level)):
            document = _pick(rng, state.readable, state.read_weights)
            if document.created > created_by:
                continue
            row = file_row(_time_in(session, rng), person, pc, document, document.path,
                           "File Open", rng)
            buffer.file.append(row)
            rows.append(row)
    if state.own:
        for _ in range(poisson(rng, habits.writes * level)):
            document = choice(rng, state.own)
            if document.created > created_by:
                continue
            row = file_row(_time_in(session, rng), person, pc, document, document.path,
                           "File Write", rng)
            buffer.file.append(row)
            rows.append(row)
    if habits.media_days and not session.travelling and rng.random() < habits.media_days:
        connect = _time_in(session, rng)
        disconnect = min(86399, connect + rng.randrange(300, 5400))
        tree = "R:\\;R:\\" + choice(rng, ("backup", "docs", "tools", "install", "data"))
        buffer.device.append([connect, person.user_id, pc, "Connect", tree, None])
        buffer.device.append([disconnect, person.user_id, pc, "Disconnect", None, None])
        for _ in range(poisson(rng, habits.media_files)):
            at = rng.randrange(connect, disconnect + 1)
            if person.profile in {"it_admin", "security"} and rng.random() < 0.6:
                name = choice(rng, ("setup", "driver", "patch", "image", "firmware", "tool"))
                path = f"R:\\install\\{name}_{rng.randrange(1, 400)}.exe"
                row = file_row(at, person, pc, None, path, "File Copy", rng,
                               to_media=rng.random() < 0.5, from_media=True)
            elif state.own:
                document = choice(rng, state.own)
                if document.sensitivity >= 3 or document.created > created_by:
                    continue
                row = file_row(at, person, pc, document, "R:\\" + document.path.rsplit(
                    "\\", 1)[1], "File Copy", rng, to_media=True)
            else:
                continue
            buffer.file.append(row)
            rows.append(row)

"""Running a simulation: plan the organisation's year(s), then write them day by day.

Planning decides everything that spans days (hires, departures, layoffs, trips, deadlines,
meetings, the insiders and their periods); the day loop then produces each day's events and
streams them to disk, so memory stays bounded by one day whatever the period.
"""

from __future__ import annotations

import csv
import random
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from molehunt.errors import ConfigError
from molehunt.simulate.background import (
    World,
    declared_intermediary,
    holidays,
    simulate_person_day,
)
from molehunt.simulate.buffer import DayBuffer
from molehunt.simulate.documents import build_corpus
from molehunt.simulate.enterprise import EnterpriseWriter
from molehunt.simulate.organisation import (
    WEB_CATEGORIES,
    Organisation,
    build_organisation,
    organisation_from_ldap,
)
from molehunt.simulate.output import (
    LAYOUTS,
    TELEMETRY,
    Writer,
    run_tag,
    write_documents,
    write_json,
    write_ldap,
    write_psychometric,
)
from molehunt.simulate.scenarios.base import Instance, load_scenarios
from molehunt.simulate.styles import resolve_style, style_knobs
from molehunt.simulate.vocabulary import COMPETITOR_DOMAINS

ProgressFn = Callable[[str, float | None], None]
ALL_SCENARIOS = ("C1", "C2", "C3", "C4", "C5", "S1", "S2", "S3", "S4")


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate; the same configuration and seed always give the same bytes."""

    out: Path
    users: int = 1000
    days: int = 500
    start: date = date(2010, 1, 4)
    seed: int = 0
    layout: str = "r6.2"
    #: organisation style (:data:`~molehunt.simulate.styles.STYLES`), or "auto": one drawn from
    #: the seed
    style: str = "baseline"
    directory: Path | None = None
    scenarios: Sequence[str] = ALL_SCENARIOS
    insiders_per_scenario: int = 1
    #: per scenario code, intensity parameters overriding the scenario's defaults
    intensity: dict[str, dict[str, float]] = field(default_factory=dict)
    #: what gets logged (:data:`~molehunt.simulate.output.TELEMETRY`); the same people do the
    #: same things whatever the profile. A profile with a layout of its own overrides ``layout``.
    telemetry: str = "full"

    @property
    def effective_layout(self) -> str:
        """The CERT layout the files are written in: the telemetry profile's, else ``layout``."""
        profile = TELEMETRY.get(self.telemetry)
        return (profile.layout if profile is not None else None) or self.layout


@dataclass
class SimulationResult:
    """What was written and who the insiders are."""

    folder: Path
    organisation: Organisation
    instances: list[Instance]
    rows: dict[str, int]
    notes: list[str]

    @property
    def events(self) -> int:
        """Event rows written (CERT event files and ``events.jsonl``)."""
        return sum(n for name, n in self.rows.items()
                   if name != "hr_events.jsonl" and not name.startswith(("hr/", "directory")))


def _no_progress(description: str, fraction: float | None) -> None:
    del description, fraction


def simulate(config: SimulationConfig, progress: ProgressFn = _no_progress) -> SimulationResult:
    """Simulate an organisation and write it to ``config.out``."""
    unknown = sorted(set(config.scenarios) - set(load_scenarios()))
    if unknown:
        raise ConfigError(f"unknown scenario {', '.join(unknown)}; known:"
                         f" {', '.join(load_scenarios())}")
    if config.days < 30:
        raise ConfigError("simulate at least 30 days")
    if config.telemetry not in TELEMETRY:
        raise ConfigError(f"unknown telemetry profile {config.telemetry!r}; expected one of"
                          f" {', '.join(TELEMETRY)}")
    if config.layout not in LAYOUTS:
        raise ConfigError(f"unknown layout {config.layout!r}; expected one of"
                          f" {', '.join(LAYOUTS)}")
    if config.directory is None and config.users < 40:
        raise ConfigError("simulate at least 40 people")
    if config.insiders_per_scenario < 0:
        raise ConfigError("--insiders-per-scenario must be 0 or more")
    style = resolve_style(config.style, config.seed)
    if config.directory is not None:
        org = organisation_from_ldap(config.directory, config.days, config.start, config.seed,
                                     style)
    else:
        org = build_organisation(config.users, config.days, config.start, config.seed,
                                 style=style)
    documents = build_corpus(org, config.seed)
    world = World(org, documents, config.seed, holidays(config.start, config.days), bursts={},
                  travel={}, meetings={}, fixed_tenure=config.directory is not None)
    plan_rng = random.Random(f"plan/{config.seed}")
    _plan_layoffs(world, plan_rng)
    _plan_travel_and_bursts(world, plan_rng)
    _plan_consultants(world, plan_rng)
    notes: list[str] = []
    instances = _plan_scenarios(world, config, notes)
    hr = _plan_hr(world, plan_rng)
    _plan_meetings(world, plan_rng)
    _mark_lookalikes(world, instances)
    out = config.out
    _prepare_output(out)
    profile = TELEMETRY[config.telemetry]
    layout, logged = config.effective_layout, profile.files
    if profile.formats == "cert":  # the enterprise profile writes its own directory
        write_ldap(out, org, layout)
    if "documents" in logged:
        write_documents(out, org, documents)
    if "psychometric" in logged:
        write_psychometric(out, org, config.seed)
    settings: list[object] = [
        config.users if config.directory is None else str(config.directory), config.days,
        config.start, config.seed, layout, sorted(config.scenarios),
        config.insiders_per_scenario, sorted((k, sorted(v.items()))
                                             for k, v in config.intensity.items())]
    if config.telemetry != "full":
        settings.append(config.telemetry)
    if style.name != "baseline":  # baseline ids stay those of simulations before styles
        settings.append(f"style={style.name}")
    writer: Writer | EnterpriseWriter = (
        EnterpriseWriter(out, org, run_tag(*settings)) if profile.formats == "enterprise"
        else Writer(out, layout, org, run_tag(*settings), logged))
    registry = load_scenarios()
    acting = [(registry[instance.code](), instance) for instance in instances]
    try:
        for day in range(config.days):
            buffer = DayBuffer(day)
            buffer.hr.extend(hr.get(day, []))
            for person in org.people:
                if person.employed(day):
                    simulate_person_day(world, person, day, buffer)
            _meetings_of_day(world, day, buffer)
            for scenario, instance in acting:
                scenario.act(instance, world, day, buffer)
            writer.write_day(buffer)
            progress("simulating", (day + 1) / config.days)
    finally:
        writer.close()
    _write_answers(out, config, world, instances, writer, notes)
    return SimulationResult(out, org, instances, dict(writer.rows), notes)


def _prepare_output(out: Path) -> None:
    """An empty folder, or one holding an earlier simulation (whose files are removed first:
    stale monthly LDAP files of a longer run would otherwise be ingested with the new ones)."""
    if out.exists() and not out.is_dir():
        raise ConfigError("not a folder", where=str(out))
    if out.exists() and any(out.iterdir()):
        if not (out / "company.json").is_file():
            raise ConfigError("the output folder is not empty and holds no earlier simulation;"
                              " choose an empty or new folder", where=str(out))
        for path in out.iterdir():
            # the enterprise profile's folders too: one profile's logs must not be ingested
            # with another's
            if path.is_dir() and path.name in {"LDAP", "answers", "m365", "windows", "proxy",
                                               "hr"}:
                shutil.rmtree(path)
            elif path.is_file() and path.name.endswith((".csv", ".jsonl", ".json")):
                path.unlink()
    out.mkdir(parents=True, exist_ok=True)


def _plan_layoffs(world: World, rng: random.Random) -> None:
    """One wave in a department in the middle of a long enough period.

    With a directory, the wave is those who leave in the busiest month of departures of one
    department (at least three people), since the directory decides who leaves when.
    """
    org = world.org
    if world.fixed_tenure:
        _layoffs_from_directory(world)
        return
    if org.days < 120:
        return
    day = int(org.days * rng.uniform(0.3, 0.5))
    while org.day_date(day).weekday() >= 5:
        day += 1
    managers = {p.supervisor for p in org.people}
    departments = sorted(d for d, members in org.departments.items() if len(members) >= 10)
    if not departments:
        return
    department = rng.choice(departments)
    candidates = [p for p in (org.people[i] for i in org.departments[department])
                  if p.index not in managers and p.employed(day)
                  and (p.leave_day is None or p.leave_day > day + 20)]
    laid_off = rng.sample(candidates, max(1, len(candidates) // 4))
    for person in laid_off:
        person.leave_day = day + rng.randrange(1, 15)
        person.departure = "laid_off"
    world.layoffs.append((day, department, {p.index for p in laid_off}))


def _layoffs_from_directory(world: World) -> None:
    groups: dict[tuple[str, int], list[int]] = {}
    for person in world.org.people:
        if person.leave_day is not None and person.leave_day > 30:
            groups.setdefault((person.department, person.leave_day // 30), []).append(
                person.index)
    if not groups:
        return
    (department, _), people = max(groups.items(), key=lambda item: (len(item[1]), item[0]))
    if len(people) < 3:
        return
    day = min(world.org.people[i].leave_day or 0 for i in people) - 1
    for index in people:
        world.org.people[index].departure = "laid_off"
    world.layoffs.append((day, department, set(people)))


def _plan_travel_and_bursts(world: World, rng: random.Random) -> None:
    org = world.org
    for person in org.people:
        trips = rng.random() * person.habits.travel * org.days / 365
        days: set[int] = set()
        for _ in range(int(trips) + (rng.random() < trips % 1)):
            begin = rng.randrange(0, org.days)
            days.update(range(begin, begin + rng.randrange(2, 6)))
        if days:
            world.travel[person.index] = days
    for team in sorted(org.teams):
        pressure: set[int] = set()
        deadline = rng.randrange(20, 90)
        while deadline < org.days:
            pressure.update(range(deadline - rng.randrange(4, 12), deadline))
            deadline += rng.randrange(50, 110)
        world.bursts[team] = pressure


def _plan_consultants(world: World, rng: random.Random) -> None:
    """About 1.5 % of specialists declare a paid outside engagement (a benign look-alike)."""
    for person in world.org.people:
        if person.profile in {"engineer", "sales", "manager"} and rng.random() < 0.015:
            person.lookalikes.append("declared_consultant")
            mix = person.habits.web_mix
            mix[WEB_CATEGORIES.index("expert_network")] += 0.004
            total = sum(mix)
            person.habits.web_mix = [share / total for share in mix]


def _plan_scenarios(world: World, config: SimulationConfig, notes: list[str]) -> list[Instance]:
    registry = load_scenarios()
    taken: set[int] = set()
    instances: list[Instance] = []
    for code in sorted(set(config.scenarios), key=ALL_SCENARIOS.index):
        scenario = registry[code]()
        params = {**scenario.defaults, **config.intensity.get(code, {})}
        bad = sorted(set(params) - set(scenario.defaults))
        if bad:
            raise ConfigError(f"scenario {code} has no parameter {', '.join(bad)}; it has"
                             f" {', '.join(scenario.defaults)}")
        for number in range(1, config.insiders_per_scenario + 1):
            rng = random.Random(f"scenario-plan/{config.seed}/{code}/{number}")
            instance = scenario.plan(world, rng, dict(params), taken, f"{code}-{number}")
            if instance is None:
                notes.append(f"{code}-{number}: nobody in the organisation fits this scenario"
                             " in the simulated period")
                continue
            taken.add(instance.insider.index)
            taken.update(instance.members)
            instances.append(instance)
    return instances


def _stamp(world: World, day: int, clock: str) -> str:
    return world.org.day_date(day).isoformat() + "T" + clock


def _plan_hr(world: World, rng: random.Random) -> dict[int, list[dict[str, Any]]]:
    """HR events: hires, notices, terminations, layoffs, concerns, trips, declarations."""
    org = world.org
    hr: dict[int, list[dict[str, Any]]] = {}

    def add(day: int, person_id: str, kind: str, clock: str, **attrs: Any) -> None:
        if 0 <= day < org.days:
            hr.setdefault(day, []).append({"user_id": person_id, "ts": _stamp(world, day, clock),
                                           "kind": kind, "attrs": attrs})

    laid_off = {i: (day, department) for day, department, people in world.layoffs
                for i in people}
    for person in org.people:
        if person.hire_day >= 0:
            add(person.hire_day, person.user_id, "hire", "09:00:00", role=person.role,
                department=person.department)
        if person.leave_day is not None:
            leave = org.day_date(person.leave_day).isoformat()
            if person.index in laid_off:
                day, department = laid_off[person.index]
                add(day, person.user_id, "layoff", "11:00:00", group=department,
                    leave_date=leave)
            elif person.departure == "terminated":
                add(person.leave_day - rng.randrange(20, 60), person.user_id,
                    "performance_concern", "16:00:00")
                add(person.leave_day - 1, person.user_id, "termination", "17:00:00",
                    leave_date=leave)
            elif person.departure == "resign":
                person.notice_day = person.leave_day - rng.randrange(10, 31)
                add(person.notice_day, person.user_id, "resignation_notice", "10:00:00",
                    leave_date=leave)
        elif rng.random() < 0.03 * org.days / 365:
            add(rng.randrange(0, org.days), person.user_id, "performance_concern", "16:00:00")
        for trip_start in sorted(d for d in world.travel.get(person.index, set())
                                 if d - 1 not in world.travel[person.index]):
            length = 1
            while trip_start + length in world.travel[person.index]:
                length += 1
            add(trip_start, person.user_id, "travel", "07:00:00", days=length,
                destination=rng.choice(("customer visit", "supplier audit", "conference",
                                        "trade fair", "plant visit")))
        if "declared_consultant" in person.lookalikes:
            add(max(0, person.hire_day), person.user_id, "outside_engagement_declared",
                "12:00:00", intermediary=declared_intermediary(world.seed, person),
                approved=True)
    return hr


def _plan_meetings(world: World, rng: random.Random) -> None:
    """Weekly team meetings, fortnightly project reviews, weekly closed-door leadership
    meetings and monthly closed-door design reviews of crown-jewel projects."""
    org = world.org
    managers = {p.supervisor for p in org.people if p.supervisor is not None}
    series: list[tuple[str, list[int], int, int, bool, str, str]] = []
    for team, members in sorted(org.teams.items()):
        series.append((f"{team} weekly", members, 7, rng.randrange(0, 5), False,
                       org.people[members[0]].department, ""))
    for name, project in sorted(org.projects.items()):
        members = [p.index for p in org.people if name in p.projects]
        if members:
            series.append((f"{name} review", members, 14, rng.randrange(0, 10), False,
                           project.department, name))
            if project.crown_jewel:
                leads = [i for i in members if i in managers] or members[:2]
                series.append((f"{name} design review (closed)", leads + members[:4], 28,
                               rng.randrange(0, 20), True, project.department, name))
    units: dict[str, list[int]] = {}
    for person in org.people:
        if person.index in managers:
            units.setdefault(person.functional_unit, []).append(person.index)
    for unit, leaders in sorted(units.items()):
        series.append((f"{unit} leadership (closed)", leaders, 7, rng.randrange(0, 5), True,
                       org.people[leaders[0]].department, ""))
    for number, (title, attendees, every, offset, closed, department, project_name) in (
            enumerate(series)):
        start = (9 + number % 8) * 3600
        for day in range(offset, org.days, every):
            if org.day_date(day).weekday() >= 5 or day in world.holidays:
                continue
            meeting_id = f"MTG-{number:04d}-{day:04d}"
            world.meetings.setdefault(day, []).append({
                "start": start, "attendees": attendees, "closed_door": closed,
                "department": department,
                "record": {"host": f"ROOM-{number % 40:02d}", "source": "sim.meeting",
                           "action": "meeting", "channel": "meeting", "object": meeting_id,
                           "attrs": {"title": title, "closed_door": closed,
                                     "department": department, "project": project_name or None,
                                     "attendees": len(attendees), "minutes": 60}}})


def _meetings_of_day(world: World, day: int, buffer: DayBuffer) -> None:
    for meeting in world.meetings.get(day, []):
        for index in meeting["attendees"]:
            session = buffer.sessions.get(index)
            if session is not None and session.start <= meeting["start"] <= session.end:
                person = world.org.people[index]
                buffer.other.append([meeting["start"], person.user_id,
                                     {**meeting["record"], "user_id": person.user_id}, None])


def _mark_lookalikes(world: World, instances: list[Instance]) -> None:
    """Name the benign look-alikes of DESIGN.md §6 so false positives can be counted by kind."""
    insiders = {i for instance in instances for i in (instance.insider.index, *instance.members)}
    laid_off_departments = {department: people for _, department, people in world.layoffs}
    for person in world.org.people:
        if person.index in insiders:
            continue
        habits = person.habits
        marks = person.lookalikes
        if person.profile in world.org.style.client_facing and habits.email_external >= 4:
            marks.append("heavy_external_email")
        if habits.media_days >= 0.5:
            marks.append("daily_removable_media")
        if habits.after_hours >= 0.3 or habits.weekend >= 0.2 or habits.shift != "day":
            marks.append("late_worker")
        if person.leave_day is not None and person.departure == "resign":
            marks.append("resigned_clean")
        if habits.web_mix[WEB_CATEGORIES.index("job_board")] >= 0.02 and person.leave_day is None:
            marks.append("job_browsing_stayer")
        if habits.web_mix[WEB_CATEGORIES.index("hacking_tools")] >= 0.02:
            marks.append("security_tools_browsing")
        if habits.expert_network_reader:
            marks.append("expert_network_reader")
        if habits.cloud_uploads >= 0.1:
            marks.append("cloud_storage_user")
        if habits.other_machines >= 0.5 or habits.shared_machine >= 0.3:
            marks.append("uses_other_machines")
        if len(world.travel.get(person.index, ())) >= 10:
            marks.append("frequent_traveller")
        people = laid_off_departments.get(person.department)
        if people is not None and person.index not in people:
            marks.append("layoff_survivor_clean")


def _write_answers(out: Path, config: SimulationConfig, world: World,
                   instances: list[Instance], writer: Writer | EnterpriseWriter,
                   notes: list[str]) -> None:
    org = world.org
    index_of = org.people_by_id()
    dataset = f"sim-{config.effective_layout}"
    with (out / "answers" / "insiders.csv").open("w", newline="", encoding="utf-8") as handle:
        table = csv.writer(handle, lineterminator="\n")
        table.writerow(["dataset", "scenario", "details", "user", "start", "end"])
        for instance in instances:
            people = [instance.insider.user_id] + [
                org.people[i].user_id for i, role in sorted(instance.members.items())
                if i != instance.insider.index and role != "masquerade"]
            for user in people:
                span = writer.spans.get((instance.name, user))
                if span is None:
                    notes.append(f"{instance.name}: {user} did nothing in the period (absent on"
                                 " every planned day); left out of insiders.csv")
                    continue
                role = instance.members.get(index_of[user], "insider")
                table.writerow([dataset, instance.code, f"{instance.name}:{role}", user,
                                _cert_time(span[0]), _cert_time(span[1])])
    with (out / "answers" / "lookalikes.csv").open("w", newline="", encoding="utf-8") as handle:
        table = csv.writer(handle, lineterminator="\n")
        table.writerow(["user", "kind"])
        for person in org.people:
            for kind in sorted(set(person.lookalikes)):
                table.writerow([person.user_id, kind])
    write_json(out / "answers" / "scenarios.json", {
        "seed": config.seed, "layout": config.effective_layout, "style": org.style.name,
        "telemetry": config.telemetry, "users": len(org.people),
        "days": config.days, "start": config.start.isoformat(),
        "instances": [{
            "instance": i.name, "scenario": i.code, "insider": i.insider.user_id,
            "members": {org.people[m].user_id: role for m, role in sorted(i.members.items())},
            "first_day": org.day_date(i.start).isoformat(),
            "last_day": org.day_date(i.end).isoformat(), "params": i.params,
            "details": i.details} for i in instances],
        "notes": notes,
    })
    company: dict[str, Any] = {
        "company": org.company, "company_domains": [org.domain],
        "competitors": list(COMPETITOR_DOMAINS), "start": config.start.isoformat(),
        "days": config.days, "layout": config.effective_layout, "style": org.style.name,
        "telemetry": config.telemetry, "seed": config.seed,
        "files": writer.rows,
    }
    if org.style.name != "baseline":  # what organisation an evaluation ran on ("random" above all)
        company["style_knobs"] = style_knobs(org.style)
    if isinstance(writer, EnterpriseWriter):
        company.update(writer.company_facts())
    write_json(out / "company.json", company)


def _cert_time(iso: str) -> str:
    day, _, clock = iso.partition("T")
    year, month, dom = day.split("-")
    return f"{month}/{dom}/{year} {clock}"

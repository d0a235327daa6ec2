"""The simulator: determinism, realistic background, scenarios that do what they say."""

from __future__ import annotations

import hashlib
import statistics
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from molehunt.errors import ConfigError
from molehunt.simulate import SimulationConfig, SimulationResult, simulate
from molehunt.simulate.scenarios.base import Instance

SEED = 101  # the seed these tests run on; the simulator was developed on seeds 3, 7 and 11


def _run(folder: Path, **options: Any) -> SimulationResult:
    defaults: dict[str, Any] = {"users": 120, "days": 240, "seed": SEED}
    return simulate(SimulationConfig(out=folder, **{**defaults, **options}))


@pytest.fixture(scope="module")
def organisation(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    """120 people over 240 days with every scenario, r6.2 layout."""
    return _run(tmp_path_factory.mktemp("org"))


@pytest.fixture(scope="module")
def counterfactual(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    """The same organisation and seed without any scenario."""
    return _run(tmp_path_factory.mktemp("org-none"), scenarios=())


def _sql(sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect()
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _csv(folder: Path, name: str) -> str:
    return f"read_csv('{folder / name}', header=true, all_varchar=true, quote='\"')"


def _day(column: str = "date") -> str:
    return f"CAST(strptime({column}, '%m/%d/%Y %H:%M:%S') AS DATE)"


def _daily_counts(folder: Path, users: list[str], company: str) -> dict[tuple[Any, ...], int]:
    """(user, day, stream) → events, where a stream is a file plus what kind of event it is."""
    where = "user IN (" + ", ".join(f"'{u}'" for u in users) + ")"
    mail_kind = (f"CASE WHEN \"to\" LIKE '%@{company}' THEN 'internal' WHEN"
                 " regexp_matches(\"to\", '@(gmail|yahoo|hotmail|outlook|aol|icloud|protonmail"
                 "|163|qq)\\.com') THEN 'webmail' ELSE 'external' END")
    selects = [
        f"SELECT user, {_day()} AS day, 'logon ' || activity AS stream FROM"
        f" {_csv(folder, 'logon.csv')} WHERE {where}",
        f"SELECT user, {_day()}, 'device ' || activity FROM {_csv(folder, 'device.csv')}"
        f" WHERE {where}",
        f"SELECT user, {_day()}, 'file ' || activity || to_removable_media ||"
        f" from_removable_media FROM {_csv(folder, 'file.csv')} WHERE {where}",
        f"SELECT user, {_day()}, 'email ' || activity || ' ' || {mail_kind} FROM"
        f" {_csv(folder, 'email.csv')} WHERE {where}",
        f"SELECT user, {_day()}, 'http ' || activity FROM {_csv(folder, 'http.csv')}"
        f" WHERE {where}",
    ]
    rows = _sql("SELECT user, day, stream, count(*) FROM (" + " UNION ALL ".join(selects)
                + ") GROUP BY ALL")
    return {(user, day, stream): n for user, day, stream, n in rows}


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# --- determinism ----------------------------------------------------------------------------

def test_same_seed_same_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    first = _digest(_run(tmp_path / "a", users=40, days=45).folder)
    second = _digest(_run(tmp_path / "b", users=40, days=45).folder)
    other = _digest(_run(tmp_path / "c", users=40, days=45, seed=SEED + 1).folder)
    assert first == second
    assert first["http.csv"] != other["http.csv"]
    # two different simulations never share an event id (the store keeps one event per id)
    ids = [{row[0] for row in _sql(f"SELECT id FROM {_csv(tmp_path / name, 'logon.csv')}")}
           for name in ("a", "c")]
    assert not ids[0] & ids[1]


# --- the organisation -----------------------------------------------------------------------

def test_organisation_structure(organisation: SimulationResult) -> None:
    org = organisation.organisation
    people = org.people
    assert len(people) == 120
    assert len({p.user_id for p in people}) == 120
    assert len({p.pc for p in people}) == 120
    assert all(p.supervisor is None or 0 <= p.supervisor < len(people) for p in people)
    assert sum(p.supervisor is None for p in people) == 1  # the president
    assert any(p.hire_day > 0 for p in people), "joiners during the period"
    assert any(p.leave_day is not None for p in people), "leavers during the period"
    assert len({p.profile for p in people}) >= 5
    ldap = sorted((organisation.folder / "LDAP").glob("*.csv"))
    assert len(ldap) == 8  # January to August 2010
    leavers = {p.user_id for p in people if p.leave_day is not None and p.leave_day < 200}
    last = ldap[-1].read_text()
    assert not any(user in last for user in leavers)


def test_hr_events_cover_every_kind_of_change(organisation: SimulationResult) -> None:
    kinds = {row[0] for row in _sql(
        f"SELECT DISTINCT kind FROM read_json('{organisation.folder / 'hr_events.jsonl'}')")}
    assert {"hire", "resignation_notice", "termination", "layoff", "travel",
            "outside_engagement_declared", "performance_concern"} <= kinds


def test_documents_have_labels_markings_and_distinct_topics(
        organisation: SimulationResult) -> None:
    rows = _sql(f"SELECT project, sensitivity, marking, language, text FROM"
                f" read_json('{organisation.folder / 'documents.jsonl'}')")
    assert {r[1] for r in rows} == {0, 1, 2, 3, 4}
    assert {r[3] for r in rows} == {"en", "zh"}
    assert any("机密" in r[2] or "商业秘密" in r[2] for r in rows)
    assert any("CONFIDENTIAL" in r[2] for r in rows)
    assert all(r[4].startswith(r[2]) for r in rows), "the marking heads every document"
    words: dict[str, set[str]] = {}
    for project, _, _, language, text in rows:
        if language == "en":
            words.setdefault(project, set()).update(text.lower().split())
    projects = sorted(words)
    overlaps = [len(words[a] & words[b]) / len(words[a] | words[b])
                for i, a in enumerate(projects) for b in projects[i + 1:]]
    assert max(overlaps) < 0.5, "projects must not share most of their vocabulary"


def test_meetings_with_attendees_and_closed_doors(organisation: SimulationResult) -> None:
    rows = _sql(f"SELECT attrs.closed_door, count(DISTINCT object), count(*) FROM"
                f" read_json('{organisation.folder / 'events.jsonl'}') WHERE action = 'meeting'"
                " GROUP BY ALL")
    by_door = {closed: (meetings, attendances) for closed, meetings, attendances in rows}
    assert by_door[True][0] > 10 and by_door[False][0] > 100
    assert by_door[False][1] > 3 * by_door[False][0], "meetings have several attendees"


# --- background behaviour -------------------------------------------------------------------

def _per_person(folder: Path, sql_rate: str, file: str) -> dict[str, float]:
    return dict(_sql(f"SELECT user, {sql_rate} FROM {_csv(folder, file)} GROUP BY user"))


def _work_days(folder: Path) -> dict[str, int]:
    return dict(_sql(f"SELECT user, count(DISTINCT {_day()}) FROM {_csv(folder, 'logon.csv')}"
                     " GROUP BY user"))


def test_per_role_distributions_differ_as_configured(counterfactual: SimulationResult) -> None:
    folder = counterfactual.folder
    org = counterfactual.organisation
    days = _work_days(folder)
    company = org.domain
    external = _per_person(folder, f"count(*) FILTER (WHERE activity = 'Send' AND"
                                   f" \"to\" NOT LIKE '%@{company}')", "email.csv")
    media = _per_person(folder, "count(*) FILTER (WHERE activity = 'Connect')", "device.csv")

    def mean_rate(counts: dict[str, float], profile: str) -> float:
        rates = [counts.get(p.user_id, 0) / days[p.user_id] for p in org.people
                 if p.profile == profile and days.get(p.user_id, 0) >= 20]
        return statistics.mean(rates)

    assert mean_rate(external, "sales") > 5 * mean_rate(external, "engineer")
    assert mean_rate(media, "it_admin") > 4 * mean_rate(media, "engineer")
    assert mean_rate(media, "it_admin") > 0.5


def test_benign_rates_match_personal_habits(counterfactual: SimulationResult) -> None:
    folder = counterfactual.folder
    org = counterfactual.organisation
    media_days = dict(_sql(
        f"SELECT user, count(DISTINCT {_day()}) FROM {_csv(folder, 'device.csv')}"
        " WHERE activity = 'Connect' GROUP BY user"))
    late_days = dict(_sql(
        f"SELECT user, count(DISTINCT {_day()}) FROM {_csv(folder, 'logon.csv')}"
        " WHERE activity = 'Logon' AND hour(strptime(date, '%m/%d/%Y %H:%M:%S')) >= 19"
        f" AND dayofweek({_day()}) BETWEEN 1 AND 5 GROUP BY user"))
    weekdays = dict(_sql(
        f"SELECT user, count(DISTINCT {_day()}) FROM {_csv(folder, 'logon.csv')}"
        f" WHERE dayofweek({_day()}) BETWEEN 1 AND 5 GROUP BY user"))
    media_pairs, late_pairs = [], []
    for person in org.people:
        worked = weekdays.get(person.user_id, 0)
        if worked < 40:
            continue
        media_pairs.append((person.habits.media_days, media_days.get(person.user_id, 0) / worked))
        late_pairs.append((person.habits.after_hours, late_days.get(person.user_id, 0) / worked))
    for pairs, tolerance in ((media_pairs, 0.12), (late_pairs, 0.12)):
        expected = [e for e, _ in pairs]
        observed = [o for _, o in pairs]
        assert statistics.correlation(expected, observed) > 0.85
        # deadlines double the evening tendency on their days: observed sits a little above
        assert statistics.mean(abs(o - e) for e, o in pairs) < tolerance
    never = [o for e, o in media_pairs if e == 0]
    assert never and max(never) == 0, "people without the habit never use removable media"


def test_benign_lookalikes_are_present_in_numbers(organisation: SimulationResult) -> None:
    kinds = dict(_sql(f"SELECT kind, count(*) FROM"
                      f" {_csv(organisation.folder / 'answers', 'lookalikes.csv')} GROUP BY kind"))
    for kind in ("heavy_external_email", "daily_removable_media", "late_worker",
                 "resigned_clean", "layoff_survivor_clean", "cloud_storage_user"):
        assert kinds.get(kind, 0) >= 2, kind
    insiders = {row[0] for row in _sql(
        f"SELECT user FROM {_csv(organisation.folder / 'answers', 'insiders.csv')}")}
    lookalikes = {row[0] for row in _sql(
        f"SELECT user FROM {_csv(organisation.folder / 'answers', 'lookalikes.csv')}")}
    assert not insiders & lookalikes


# --- scenarios ------------------------------------------------------------------------------

#: Streams a scenario may change in its insider's days (besides adding or altering content).
_ALLOWED = {
    "C1": ("logon Logon", "logon Logoff", "device", "file File CopyTrueFalse", "http WWW Upload"),
    # C2 resigns: honest leavers' job search and handover mail come with it
    "C2": ("http WWW Visit", "email Send", "device", "file File CopyTrueFalse"),
    "C3": ("http WWW Download", "device", "file File Copy", "logon", "email Send internal"),
    "C4": ("logon", "file File Open", "email Send webmail"),
    "C5": ("http WWW Upload",),
    "S1": (),
    "S2": ("email Send",),
    "S4": ("http", "email Send external"),
}


def _instances(result: SimulationResult) -> dict[str, Instance]:
    return {i.code: i for i in result.instances}


def test_every_scenario_is_planted_and_labelled(organisation: SimulationResult) -> None:
    assert sorted(_instances(organisation)) == ["C1", "C2", "C3", "C4", "C5", "S1", "S2", "S3",
                                                "S4"]
    answers = organisation.folder / "answers"
    insiders = _sql(f"SELECT scenario, user, details FROM {_csv(answers, 'insiders.csv')}")
    labelled = dict(_sql(f"SELECT user, count(*) FROM {_csv(answers, 'labels.csv')}"
                         " GROUP BY user"))
    assert {s for s, _, _ in insiders} == set(_instances(organisation))
    for _, user, _ in insiders:
        assert labelled.get(user, 0) > 0, user
    # labels point at events that exist, in the file they name
    files = _sql(f"SELECT DISTINCT file FROM {_csv(answers, 'labels.csv')}")
    for (file,) in files:
        reader = (f"read_json('{organisation.folder / file}')" if file.endswith(".jsonl")
                  else _csv(organisation.folder, file))
        key = "event_id" if file.endswith(".jsonl") else "id"
        missing = _sql(f"SELECT count(*) FROM {_csv(answers, 'labels.csv')} l ANTI JOIN"
                       f" {reader} e ON l.event_id = e.{key} WHERE l.file = '{file}'")
        assert missing == [(0,)], file


def test_scenarios_change_their_insiders_only_as_they_say(
        organisation: SimulationResult, counterfactual: SimulationResult) -> None:
    org = organisation.organisation
    instances = _instances(organisation)
    users = [i.insider.user_id for i in instances.values()]
    users += [org.people[m].user_id for i in instances.values() for m in i.members]
    with_scenarios = _daily_counts(organisation.folder, users, org.domain)
    without = _daily_counts(counterfactual.folder, users, org.domain)
    for code, allowed in _ALLOWED.items():
        instance = instances[code]
        people = {instance.insider.user_id} | {org.people[m].user_id for m in instance.members}
        stop = instance.insider.leave_day or org.days  # the counterfactual person stays
        for (user, day, stream) in set(with_scenarios) | set(without):
            if user not in people:
                continue
            index = (day - org.start).days
            if index >= stop:
                continue
            changed = with_scenarios.get((user, day, stream), 0) != without.get(
                (user, day, stream), 0)
            if not changed:
                continue
            assert instance.start <= index <= instance.end + 1, (code, user, day, stream)
            assert stream.startswith(allowed) if allowed else False, (code, user, day, stream)


def test_unaffected_people_are_identical_with_and_without_scenarios(
        organisation: SimulationResult, counterfactual: SimulationResult) -> None:
    org = organisation.organisation
    involved = {i.insider.index for i in organisation.instances} | {
        m for i in organisation.instances for m in i.members}
    bystanders = [p.user_id for p in org.people if p.index not in involved][:25]
    assert _daily_counts(organisation.folder, bystanders, org.domain) == _daily_counts(
        counterfactual.folder, bystanders, org.domain)


def test_s1_is_low_and_slow_and_climbs(organisation: SimulationResult) -> None:
    instance = _instances(organisation)["S1"]
    answers = organisation.folder / "answers"
    labelled = _sql(f"SELECT l.event_id, strptime(e.date, '%m/%d/%Y %H:%M:%S') FROM"
                    f" {_csv(answers, 'labels.csv')} l JOIN"
                    f" {_csv(organisation.folder, 'email.csv')} e ON e.id = l.event_id"
                    f" WHERE l.scenario = 'S1'")
    assert len(labelled) >= 8
    per_day = statistics.mean(len(labelled) / max(1, instance.end - instance.start) for _ in [0])
    assert per_day < 0.5, "a few excerpts a week at most"
    documents = {row[0]: row[1] for row in _sql(
        f"SELECT path, sensitivity FROM read_json('{organisation.folder / 'documents.jsonl'}')")}
    reads = _sql(f"SELECT strptime(e.date, '%m/%d/%Y %H:%M:%S') AS t, e.filename FROM"
                 f" {_csv(answers, 'labels.csv')} l JOIN {_csv(organisation.folder, 'file.csv')}"
                 f" e ON e.id = l.event_id WHERE l.scenario = 'S1' ORDER BY t")
    levels = [documents[path] for _, path in reads]
    assert len(levels) >= 6
    third = len(levels) // 3
    assert statistics.mean(levels[-third:]) > statistics.mean(levels[:third]) + 0.8


def test_s2_labels_the_hub_and_every_accomplice(organisation: SimulationResult) -> None:
    instance = _instances(organisation)["S2"]
    org = organisation.organisation
    roles = dict(_sql(f"SELECT user, any_value(details) FROM"
                      f" {_csv(organisation.folder / 'answers', 'insiders.csv')}"
                      " WHERE scenario = 'S2' GROUP BY user"))
    assert roles[instance.insider.user_id] == "S2-1:hub"
    accomplices = [org.people[m] for m, role in instance.members.items() if role == "accomplice"]
    assert len(accomplices) == 3
    for person in accomplices:
        assert roles[person.user_id] == "S2-1:accomplice"
        assert person.team != instance.insider.team
    hub_mail = _sql(f"SELECT count(*) FROM {_csv(organisation.folder, 'email.csv')} WHERE"
                    f" \"to\" = '{instance.insider.email}' AND attachments <> ''"
                    f" AND user IN ({', '.join(repr(p.user_id) for p in accomplices)})")
    assert hub_mail[0][0] >= 3, "content converges on the hub"


def test_s3_arrives_with_foreign_secrets_and_leaves_with_a_haul(
        organisation: SimulationResult) -> None:
    instance = _instances(organisation)["S3"]
    person = instance.insider
    assert person.hire_day > 0 and person.leave_day is not None
    assert person.leave_day < organisation.organisation.days
    company = instance.state["company"]
    arrival = _sql(f"SELECT min(strptime(date, '%m/%d/%Y %H:%M:%S')) FROM"
                   f" {_csv(organisation.folder, 'file.csv')} WHERE user = '{person.user_id}'"
                   f" AND from_removable_media = 'True' AND content LIKE '%{company}%'")
    assert arrival[0][0] is not None
    first_day = (arrival[0][0].date() - organisation.organisation.start).days
    assert first_day - person.hire_day <= 7
    haul = _sql(f"SELECT count(*) FROM {_csv(organisation.folder, 'file.csv')} WHERE"
                f" user = '{person.user_id}' AND to_removable_media = 'True'")
    assert haul[0][0] >= 20


def test_c2_copies_far_more_than_before(organisation: SimulationResult) -> None:
    instance = _instances(organisation)["C2"]
    start = organisation.organisation.start
    rows = _sql(f"SELECT {_day()} AS day, count(*) FROM {_csv(organisation.folder, 'file.csv')}"
                f" WHERE user = '{instance.insider.user_id}' AND to_removable_media = 'True'"
                " GROUP BY day")
    before = [n for d, n in rows if (d - start).days < instance.start]
    during = [n for d, n in rows if (d - start).days >= instance.start]
    assert during and sum(during) >= 3 * max(1, sum(before) / max(1, len(before))) * len(
        during) / 2


# --- ingestion and the command line ---------------------------------------------------------

def test_errors_are_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown scenario X9"):
        simulate(SimulationConfig(out=tmp_path, users=40, days=40, scenarios=("X9",)))
    with pytest.raises(ConfigError, match="has no parameter speed"):
        simulate(SimulationConfig(out=tmp_path, users=40, days=40,
                                  intensity={"C1": {"speed": 2.0}}))
    with pytest.raises(ConfigError, match="layout"):
        simulate(SimulationConfig(out=tmp_path, users=40, days=40, layout="r5.1"))


def test_start_date_is_respected(tmp_path: Path) -> None:
    result = _run(tmp_path, users=40, days=35, start=date(2015, 3, 2), scenarios=())
    first = _sql(f"SELECT min(strptime(date, '%m/%d/%Y %H:%M:%S')) FROM"
                 f" {_csv(result.folder, 'logon.csv')}")[0][0]
    assert first.date() >= date(2015, 3, 2)


# --- the organisation of a directory --------------------------------------------------------

LDAP_FIXTURE = Path(__file__).parent / "fixtures" / "ldap_org"


def _ldap_people() -> dict[str, dict[str, Any]]:
    people: dict[str, dict[str, Any]] = {}
    for path in sorted(LDAP_FIXTURE.glob("*.csv")):
        month = int(path.stem[-2:])
        for row in _sql(f"SELECT user_id, employee_name, role, supervisor FROM"
                        f" {_csv(LDAP_FIXTURE, path.name)}"):
            entry = people.setdefault(row[0], {"name": row[1], "role": row[2],
                                               "supervisor": row[3], "months": []})
            entry["months"].append(month)
    return people


@pytest.mark.parametrize("scenarios", [(), ("C1", "C2", "C3", "C4", "C5", "S1", "S2", "S3",
                                            "S4")])
def test_directory_gives_the_people_roles_supervisors_and_departures(
        tmp_path: Path, scenarios: tuple[str, ...]) -> None:
    result = simulate(SimulationConfig(out=tmp_path / "org", directory=LDAP_FIXTURE, days=118,
                                       start=date(2011, 1, 3), seed=SEED, scenarios=scenarios))
    expected = _ldap_people()
    org = result.organisation
    assert {p.user_id for p in org.people} == set(expected)
    for person in org.people:
        truth = expected[person.user_id]
        assert person.name == truth["name"]
        assert person.role == truth["role"]
        boss = org.people[person.supervisor].name if person.supervisor is not None else None
        assert boss == truth["supervisor"]
        first_month = org.day_date(max(person.hire_day, 0)).month
        assert first_month == truth["months"][0] or person.hire_day <= 0
        if truth["months"][-1] == 4:
            assert person.leave_day is None
        else:
            assert person.leave_day is not None
            assert org.day_date(person.leave_day - 1).month == truth["months"][-1]
    for path in LDAP_FIXTURE.glob("*.csv"):
        assert (result.folder / "LDAP" / path.name).read_bytes() == path.read_bytes()
    active = dict(_sql(f"SELECT user, list(DISTINCT month({_day()})) FROM"
                       f" {_csv(result.folder, 'logon.csv')} GROUP BY user"))
    for user, truth in expected.items():
        if user in active:  # nobody works outside the months the directory has them
            assert set(active[user]) <= set(truth["months"]), user


def test_s1_never_leaves_the_insiders_normal_daily_range(
        organisation: SimulationResult, counterfactual: SimulationResult) -> None:
    """Counts match the counterfactual run exactly; bytes sent per day as well."""
    instance = _instances(organisation)["S1"]
    user = instance.insider.user_id

    def daily_bytes(folder: Path) -> dict[Any, tuple[int, int]]:
        return {day: (n, size) for day, n, size in _sql(
            f"SELECT {_day()} AS day, count(*), sum(CAST(size AS BIGINT)) FROM"
            f" {_csv(folder, 'email.csv')} WHERE user = '{user}' AND activity = 'Send'"
            " GROUP BY day")}

    assert daily_bytes(organisation.folder) == daily_bytes(counterfactual.folder)
    labelled = _sql(f"SELECT count(*) FROM {_csv(organisation.folder / 'answers', 'labels.csv')}"
                    " WHERE scenario = 'S1'")[0][0]
    assert labelled > 0


@pytest.mark.parametrize("layout", ["r4.2", "r6.2"])
def test_ingest_cert_reads_a_whole_simulated_organisation(tmp_path: Path, layout: str) -> None:
    from conftest import ingest_cert
    from molehunt.store.status import store_status
    from molehunt.store.workspace import Workspace

    result = _run(tmp_path / "org", users=60, days=75, layout=layout)
    workspace = Workspace(tmp_path / "ws")
    summary = ingest_cert(workspace, result.folder)
    assert summary.rows_quarantined == 0
    assert not any("answers" in f.path for f in summary.files), "the truth is never ingested"
    report = store_status(workspace)
    assert report["events_total"] == result.events
    assert report["quarantined_total"] == 0
    assert report["directory_users"] == len(result.organisation.people)
    # monthly snapshots show a departure once a month's file no longer lists the person
    org = result.organisation
    last_month = org.day_date(74).replace(day=1)
    assert report["departures"] == sum(p.leave_day is not None
                                       and org.day_date(p.leave_day) <= last_month
                                       for p in org.people)
    assert report["documents"] == len(_sql(
        f"SELECT 1 FROM read_json('{result.folder / 'documents.jsonl'}')"))
    stored = workspace.events_dir
    missing = _sql(
        f"SELECT count(*) FROM {_csv(result.folder / 'answers', 'labels.csv')} l ANTI JOIN"
        f" read_parquet('{stored}/*/*.parquet') e ON e.event_id = l.event_id")
    assert missing == [(0,)], "every labelled event is in the store under its id"


def test_output_folder_is_new_or_an_earlier_simulation(tmp_path: Path) -> None:
    longer = _run(tmp_path / "org", users=40, days=70, scenarios=())
    assert len(list((longer.folder / "LDAP").glob("*.csv"))) == 3
    shorter = _run(tmp_path / "org", users=40, days=35, scenarios=())
    assert len(list((shorter.folder / "LDAP").glob("*.csv"))) == 2, "no stale month is left"
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not empty"):
        _run(tmp_path / "mine", users=40, days=35)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_a_broken_directory_file_is_one_clear_error(tmp_path: Path) -> None:
    from molehunt.errors import SourceError

    (tmp_path / "ldap").mkdir()
    (tmp_path / "ldap" / "2011-01.csv").write_text("employee_name,user_id\nAnn Lee,AL1\n")
    with pytest.raises(SourceError, match="not a CERT LDAP file"):
        simulate(SimulationConfig(out=tmp_path / "org", directory=tmp_path / "ldap", days=40))
    (tmp_path / "ldap" / "2011-01.csv").write_text(
        "employee_name,user_id,email,role,supervisor\nAnn Lee,,a@x.com,Engineer,\n")
    with pytest.raises(SourceError, match="empty user_id") as caught:
        simulate(SimulationConfig(out=tmp_path / "org", directory=tmp_path / "ldap", days=40))
    assert "2011-01.csv:2" in str(caught.value)


@pytest.mark.parametrize("layout", ["r4.2", "r6.2"])
def test_fields_that_need_quoting_are_quoted(tmp_path: Path, layout: str) -> None:
    import csv

    from molehunt.simulate.buffer import DayBuffer
    from molehunt.simulate.organisation import build_organisation
    from molehunt.simulate.output import Writer

    org = build_organisation(40, 35, date(2010, 1, 4), seed=SEED)
    writer = Writer(tmp_path, layout, org, "T101")
    buffer = DayBuffer(0)
    tricky = 'a, b "quoted"\nnext line'
    buffer.http += [[3600, "U1", "PC-1", "http://x.com/a", "WWW Visit", "plain", None,
                     ("x.com", "general")],
                    [3601, "U1", "PC-1", "http://x.com/b,c", "WWW Visit", tricky, None,
                     ("x.com", "general")],
                    [3602, "U1", "PC-1", "http://x.com/d", "WWW Visit", "after", None,
                     ("x.com", "general")]]
    writer.write_day(buffer)
    writer.close()
    with (tmp_path / "http.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["content"] for r in rows] == ["plain", tricky, "after"]
    assert [r["url"] for r in rows] == ["http://x.com/a", "http://x.com/b,c", "http://x.com/d"]
    assert len({r["id"] for r in rows}) == 3


def test_declared_consultants_talk_to_the_intermediary_they_declared(
        organisation: SimulationResult) -> None:
    folder = organisation.folder
    declared = dict(_sql(f"SELECT user_id, attrs.intermediary FROM"
                         f" read_json('{folder / 'hr_events.jsonl'}')"
                         " WHERE kind = 'outside_engagement_declared'"))
    assert declared
    contacted = _sql(f"SELECT user, \"to\" FROM {_csv(folder, 'email.csv')} WHERE"
                     " \"to\" LIKE 'experts@%'")
    assert contacted
    for user, address in contacted:
        assert address == f"experts@{declared[user]}"


def test_ten_thousand_people_get_a_computer_each() -> None:
    # CERT's four-digit computer numbers allow 9,000 names: drawing an unused one for the
    # 9,001st person never ended (the scale benchmark's 10,000 people hung before day one)
    from molehunt.simulate.organisation import build_organisation

    org = build_organisation(10000, 60, date(2010, 1, 4), seed=SEED)
    computers = [p.pc for p in org.people] + org.shared_pcs
    assert len(org.people) == 10000 and len(set(computers)) == len(computers)
    # an organisation of the sizes developed on keeps CERT's names (and its seeds' bytes)
    small = build_organisation(1000, 60, date(2010, 1, 4), seed=SEED)
    assert {len(p.pc) for p in small.people} == {len("PC-1234")}


def test_a_team_shares_one_reading_list() -> None:
    """The documents a person reads are one list per department and projects, not one per
    person: per person they grew as people × documents (8 GiB before 10,000 people)."""
    from molehunt.simulate.background import World
    from molehunt.simulate.documents import build_corpus
    from molehunt.simulate.organisation import build_organisation
    from molehunt.simulate.styles import resolve_style

    org = build_organisation(120, 60, date(2010, 1, 4), SEED,
                             style=resolve_style("baseline", SEED))
    world = World(org, build_corpus(org, SEED), SEED, set(), bursts={}, travel={}, meetings={})
    teams: dict[tuple[str, tuple[str, ...]], list[Any]] = {}
    for person in org.people:
        teams.setdefault((person.department, tuple(person.projects)), []).append(person)
    first, second = next(members for members in teams.values() if len(members) >= 2)[:2]
    assert world.state(first).readable is world.state(second).readable
    assert world.state(first).read_weights is world.state(second).read_weights
    assert len(world.reading_lists) <= len(teams) < len(org.people)

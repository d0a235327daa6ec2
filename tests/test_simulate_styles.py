"""Organisation styles: each culture gives a measurably different background, baseline none."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from molehunt.errors import ConfigError
from molehunt.simulate import SimulationConfig, SimulationResult, simulate
from molehunt.simulate.background import domains_of
from molehunt.simulate.organisation import PROFILES, WEB_CATEGORIES
from molehunt.simulate.styles import (
    BASELINE,
    CLIENT_FACING_CHANCE,
    RANDOM_BOUNDS,
    STYLE_NAMES,
    STYLES,
    OrganisationStyle,
    draw_random_style,
    resolve_style,
    style_knobs,
)

SEED = 101
#: a background only (no scenario) of 60 people over 40 days: about a second per style
SMALL: dict[str, Any] = {"users": 60, "days": 40, "seed": SEED, "scenarios": ()}
#: What the simulator wrote for SMALL before styles existed (every file but company.json and
#: answers/scenarios.json, which now say the style). If you change the background on purpose,
#: update it; if not, baseline is no longer the simulator it was.
BASELINE_DIGEST = "1ec006bf3089404c804b57f491489eefe0a838584cd2fb5869f40815d9b627e5"


@pytest.fixture(scope="module")
def styled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SimulationResult]:
    """The same small company under every style."""
    return {name: simulate(SimulationConfig(out=tmp_path_factory.mktemp(name), style=name,
                                            **SMALL))
            for name in STYLES}


def _one(sql: str) -> Any:
    con = duckdb.connect()
    try:
        row = con.execute(sql).fetchone()
    finally:
        con.close()
    assert row is not None
    return row[0]


def _csv(folder: Path, name: str) -> str:
    return f"read_csv('{folder / name}', header=true, all_varchar=true, quote='\"')"


_TIME = "strptime(date, '%m/%d/%Y %H:%M:%S')"


def _measure(result: SimulationResult) -> dict[str, float]:
    """Per person-day rates and shares of the written files."""
    folder, org = result.folder, result.organisation
    logon, device, http, email = (_csv(folder, f"{name}.csv")
                                  for name in ("logon", "device", "http", "email"))
    person_days = _one(f"SELECT count(DISTINCT (user, CAST({_TIME} AS DATE))) FROM {logon}")
    shared = ", ".join(f"'{pc}'" for pc in org.shared_pcs)
    trips = sum(json.loads(line)["kind"] == "travel"
                for line in (folder / "hr_events.jsonl").read_text().splitlines())

    def visits(category: str) -> str:
        domains = ", ".join(f"'{d}'" for d in domains_of(category))
        return (f"count(*) FILTER (WHERE regexp_extract(url, '^https?://([^/]+)', 1)"
                f" IN ({domains}))")

    return {
        "off_hours_logons": _one(
            f"SELECT avg(CASE WHEN hour({_TIME}) < 7 OR hour({_TIME}) >= 20"
            f" OR dayofweek({_TIME}) IN (0, 6) THEN 1 ELSE 0 END) FROM {logon}"
            " WHERE activity = 'Logon'"),
        "shared_machine_logons": _one(
            f"SELECT avg(CASE WHEN pc IN ({shared}) THEN 1 ELSE 0 END) FROM {logon}"
            " WHERE activity = 'Logon'"),
        "removable_media_users": _one(
            f"SELECT count(DISTINCT user) FROM {device} WHERE activity = 'Connect'")
        / len(org.people),
        "media_connects": _one(f"SELECT count(*) FROM {device} WHERE activity = 'Connect'")
        / person_days,
        "web_visits": _one(f"SELECT count(*) FROM {http} WHERE activity = 'WWW Visit'")
        / person_days,
        "cloud_uploads": _one(f"SELECT count(*) FROM {http} WHERE activity = 'WWW Upload'")
        / person_days,
        "job_board_visits": _one(f"SELECT {visits('job_board')} FROM {http}") / person_days,
        "expert_network_visits": _one(f"SELECT {visits('expert_network')} FROM {http}")
        / person_days,
        "external_mail": _one(f"SELECT count(*) FROM {email} WHERE activity = 'Send' AND"
                              f" \"to\" NOT LIKE '%@{org.domain}'") / person_days,
        "trips_per_person": trips / len(org.people),
    }


def _table(measured: dict[str, dict[str, float]]) -> str:
    names = list(next(iter(measured.values())))
    return "\n".join([f"{'':24}" + "".join(f"{style:>13}" for style in measured)] + [
        f"{name:24}" + "".join(f"{measured[style][name]:13.3f}" for style in measured)
        for name in names])


def test_every_style_gives_a_measurably_different_background(
        styled: dict[str, SimulationResult]) -> None:
    measured = {name: _measure(result) for name, result in styled.items()}
    print("\n" + _table(measured))  # shown with -s: the figures the styles are known by
    base, factory, consultancy, startup = (measured[name] for name in (
        "baseline", "night_shift", "consultancy", "startup"))

    def ratio(style: dict[str, float], name: str) -> float:
        return style[name] / base[name]

    why = "\n" + _table(measured)
    # the factory works nights and weekends at shared machines, carries USB sticks, reads
    # little web
    assert ratio(factory, "off_hours_logons") > 1.8, why
    assert ratio(factory, "shared_machine_logons") > 5, why
    assert ratio(factory, "removable_media_users") > 1.5, why
    assert ratio(factory, "media_connects") > 3, why
    assert ratio(factory, "web_visits") < 0.6, why
    assert ratio(factory, "cloud_uploads") < 0.5, why
    # the consultancy mails and browses more, uploads, reads expert networks and travels
    assert ratio(consultancy, "external_mail") > 1.8, why
    assert ratio(consultancy, "web_visits") > 1.15, why
    assert ratio(consultancy, "cloud_uploads") > 2, why
    assert ratio(consultancy, "job_board_visits") > 2, why
    assert ratio(consultancy, "expert_network_visits") > 3, why
    assert ratio(consultancy, "trips_per_person") > 2, why
    # the start-up works late, lives in the cloud and hardly uses removable media
    assert ratio(startup, "off_hours_logons") > 1.3, why
    assert ratio(startup, "cloud_uploads") > 2, why
    assert ratio(startup, "media_connects") < 0.6, why


def test_travellers_abroad_log_on_at_odd_hours(styled: dict[str, SimulationResult]) -> None:
    def odd_first_logons(result: SimulationResult) -> float:
        """Share of weekdays away whose first logon is before 06:00 or after 13:00."""
        away: set[tuple[str, date]] = set()
        for line in (result.folder / "hr_events.jsonl").read_text().splitlines():
            event = json.loads(line)
            if event["kind"] == "travel":
                first = date.fromisoformat(event["ts"][:10]).toordinal()
                away.update((event["user_id"], date.fromordinal(first + k))
                            for k in range(event["attrs"]["days"]))
        rows = _rows(f"SELECT user, CAST({_TIME} AS DATE), min(hour({_TIME})) FROM"
                     f" {_csv(result.folder, 'logon.csv')} WHERE activity = 'Logon' AND"
                     f" dayofweek({_TIME}) BETWEEN 1 AND 5 GROUP BY ALL")
        hours = [hour for user, day, hour in rows if (user, day) in away]
        assert len(hours) >= 10
        return sum(hour < 6 or hour >= 13 for hour in hours) / len(hours)

    assert odd_first_logons(styled["consultancy"]) > 0.25
    assert odd_first_logons(styled["baseline"]) < 0.05


def _rows(sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect()
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_lookalikes_are_marked_under_every_style(styled: dict[str, SimulationResult]) -> None:
    for name, result in styled.items():
        marked: dict[str, set[str]] = {}
        for line in (result.folder / "answers" / "lookalikes.csv").read_text().splitlines()[1:]:
            user, kind = line.split(",")
            marked.setdefault(user, set()).add(kind)
        for person in result.organisation.people:
            habits, kinds = person.habits, marked.get(person.user_id, set())
            expected = {
                "late_worker": habits.shift != "day" or habits.after_hours >= 0.3
                or habits.weekend >= 0.2,
                "daily_removable_media": habits.media_days >= 0.5,
                "uses_other_machines": habits.shared_machine >= 0.3
                or habits.other_machines >= 0.5,
                "expert_network_reader": habits.expert_network_reader,
                "cloud_storage_user": habits.cloud_uploads >= 0.1,
            }
            for kind, fits in expected.items():
                assert (kind in kinds) == fits, (name, person.user_id, kind)
    factory = styled["night_shift"].organisation.people
    assert sum(p.habits.shift == "night" for p in factory) >= 5
    assert sum(p.habits.shift == "evening" for p in factory) >= 3
    consultancy = styled["consultancy"]
    kinds = (consultancy.folder / "answers" / "lookalikes.csv").read_text()
    assert kinds.count(",frequent_traveller") >= 2
    # consultants who are not sales staff mail clients heavily as their job
    assert any(line.endswith(",heavy_external_email") and consultancy.organisation.people[
        consultancy.organisation.people_by_id()[line.split(",")[0]]].profile != "sales"
               for line in kinds.splitlines())


def test_styles_keep_the_people_and_say_which_style(
        styled: dict[str, SimulationResult]) -> None:
    people = {name: [p.user_id for p in result.organisation.people]
              for name, result in styled.items()}
    # the same company in another culture (the start-up's smaller teams make other people)
    assert people["baseline"] == people["night_shift"] == people["consultancy"]
    ids = set()
    for name, result in styled.items():
        for file in ("company.json", "answers/scenarios.json"):
            assert json.loads((result.folder / file).read_text())["style"] == name
        ids.add(_one(f"SELECT min(id) FROM {_csv(result.folder, 'logon.csv')}")[1:6])
    assert len(ids) == len(STYLES), "every style names its events apart"


def _digest(folder: Path, skip: frozenset[str] = frozenset()) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_file() and name not in skip:
            digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def test_baseline_is_the_simulator_as_it_was(styled: dict[str, SimulationResult]) -> None:
    assert SimulationConfig(out=Path("x")).style == "baseline"
    assert _digest(styled["baseline"].folder, frozenset({
        "company.json", "answers/scenarios.json"})) == BASELINE_DIGEST


def test_same_seed_and_style_same_bytes_and_auto_draws_from_the_seed(tmp_path: Path) -> None:
    tiny: dict[str, Any] = {"users": 40, "days": 30, "seed": SEED}
    first = simulate(SimulationConfig(out=tmp_path / "a", style="night_shift", **tiny))
    again = simulate(SimulationConfig(out=tmp_path / "b", style="night_shift", **tiny))
    assert _digest(first.folder) == _digest(again.folder)
    drawn = resolve_style("auto", SEED)
    auto = simulate(SimulationConfig(out=tmp_path / "c", style="auto", **tiny))
    assert auto.organisation.style == drawn
    assert json.loads((auto.folder / "company.json").read_text())["style"] == drawn.name
    if drawn.name == "night_shift":
        assert _digest(auto.folder) == _digest(first.folder)
    assert all(resolve_style("auto", seed) == resolve_style("auto", seed) for seed in range(40))
    assert {resolve_style("auto", seed).name for seed in range(40)} == set(STYLES)


def test_an_unknown_style_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown organisation style 'factory'; known: "
                       + ", ".join(STYLES) + ", random, auto"):
        simulate(SimulationConfig(out=tmp_path / "x", users=40, days=30, style="factory"))
    assert not (tmp_path / "x").exists()
    failed = subprocess.run(
        [sys.executable, "-m", "molehunt.cli", "simulate", "--out", str(tmp_path / "y"),
         "--users", "40", "--days", "30", "--style", "factory"],
        capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}, timeout=300)
    assert failed.returncode == 1
    assert "unknown organisation style 'factory'" in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1, failed.stderr


def test_style_definitions_name_real_categories_and_profiles_and_are_documented() -> None:
    documentation = (Path(__file__).parents[1] / "docs" / "simulator.md").read_text()
    for style in STYLES.values():
        assert set(style.web_mix) <= set(WEB_CATEGORIES), style.name
        assert set(style.shift_share) | set(style.shared_machine_share) | set(
            style.client_facing) <= set(PROFILES), style.name
        assert f"`{style.name}`" in documentation, style.name


# -- the random style: every knob drawn from the seed


def _drawn_numbers(style: OrganisationStyle) -> dict[str, float]:
    """Every number knob of a style by its RANDOM_BOUNDS name (``shift_share.engineer``, ...)."""
    numbers: dict[str, float] = {}
    for name, value in style_knobs(style).items():
        if isinstance(value, dict):
            numbers.update({f"{name}.{key}": entry for key, entry in value.items()})
        elif isinstance(value, int | float):
            numbers[name] = value
    return numbers


def test_random_draws_every_knob_of_the_style() -> None:
    knobs = set(style_knobs(BASELINE))
    # a knob added to OrganisationStyle must be drawn by random too
    assert {name.partition(".")[0] for name in RANDOM_BOUNDS} | {"client_facing"} == knobs
    assert set(_drawn_numbers(draw_random_style(1))) == set(RANDOM_BOUNDS)
    assert "random" not in STYLES, "auto keeps drawing among the named styles"
    assert STYLE_NAMES[-2:] == ("random", "auto")


@settings(max_examples=150, deadline=None, database=None, derandomize=True)
@given(st.integers(min_value=0, max_value=2**40))
def test_every_drawn_knob_is_within_its_bounds(seed: int) -> None:
    style = resolve_style("random", seed)
    assert style == draw_random_style(seed) and style.name == "random"
    for name, value in _drawn_numbers(style).items():
        bounds = RANDOM_BOUNDS[name]
        assert bounds.low <= value <= bounds.high, (seed, name, value)
    assert isinstance(style.team_size, int)
    assert "sales" in style.client_facing and style.client_facing <= set(PROFILES)
    assert set(style.web_mix) <= set(WEB_CATEGORIES) - {"general"}


def _position(name: str, value: float) -> float:
    """Where a drawn value lies in its bounds, 0 to 1 (in log scale for multipliers)."""
    bounds = RANDOM_BOUNDS[name]
    if bounds.log:
        return math.log(value / bounds.low) / math.log(bounds.high / bounds.low)
    return (value - bounds.low) / (bounds.high - bounds.low)


def test_seeds_draw_clearly_different_organisations() -> None:
    styles = [draw_random_style(seed) for seed in range(1000, 1040)]
    for first, second in itertools.pairwise(styles):
        one, other = _drawn_numbers(first), _drawn_numbers(second)
        # a per-profile share follows its company-wide level: one knob, apart where any
        # profile's share is
        distance: dict[str, float] = {}
        for name in one:
            knob = name if name.startswith("web_mix.") else name.partition(".")[0]
            distance[knob] = max(distance.get(knob, 0.0), abs(
                _position(name, one[name]) - _position(name, other[name])))
        apart = [knob for knob, gap in distance.items() if gap > 0.2]
        # independent uniform draws are a fifth of their range apart 64 % of the time
        assert len(apart) >= len(distance) / 3, apart
    # over many seeds each knob covers most of its range, and the client-facing draw varies
    for name in RANDOM_BOUNDS:
        positions = [_position(name, _drawn_numbers(style)[name]) for style in styles]
        # a per-profile share is a product of two draws: its extremes are rare
        product = "share." in name
        assert max(positions) - min(positions) > (0.45 if product else 0.7), name
    facing = [len(style.client_facing) - 1 for style in styles]
    assert min(facing) <= 1 < 3 <= max(facing)
    assert 0.15 < sum(facing) / (6 * len(styles)) < 0.45, CLIENT_FACING_CHANCE


def test_random_is_deterministic_and_company_json_says_what_was_drawn(tmp_path: Path) -> None:
    tiny: dict[str, Any] = {"users": 40, "days": 30, "seed": SEED, "scenarios": ()}
    first = simulate(SimulationConfig(out=tmp_path / "a", style="random", **tiny))
    again = simulate(SimulationConfig(out=tmp_path / "b", style="random", **tiny))
    assert _digest(first.folder) == _digest(again.folder)
    company = json.loads((first.folder / "company.json").read_text())
    assert company["style"] == "random"
    assert company["style_knobs"] == json.loads(json.dumps(style_knobs(
        draw_random_style(SEED))))
    assert company["style_knobs"]["media_share"] == draw_random_style(SEED).media_share


#: Seeds of the random organisations whose measured background is compared with their knobs:
#: the first five tried (seeds held out for evaluation are never used in tests). Five small
#: organisations are noisy: over 30 seeds of 60 days the same rank correlations are 0.74 to
#: 0.98.
MEASURED_SEEDS = range(1001, 1006)

#: Per measure of :func:`_measure`, what the drawn knobs predict of it (only the order counts).
PREDICTED: dict[str, Any] = {
    # shift workers log on at night; after_hours and weekend scale evening and weekend sessions
    "off_hours_logons": lambda s: s.shift_share["engineer"] + 0.1 * (s.after_hours + s.weekend),
    "shared_machine_logons": lambda s: s.shared_machine_share["engineer"],
    "removable_media_users": lambda s: s.media_share,
    "media_connects": lambda s: s.media_share * s.media_days,
    "web_visits": lambda s: s.http,
    "cloud_uploads": lambda s: s.cloud_share * s.cloud_uploads,
    "job_board_visits": lambda s: s.http * s.job_board_share * s.web_mix["job_board"],
    "expert_network_visits": lambda s: s.http * s.expert_reader_share,
    "external_mail": lambda s: s.email_external,
    "trips_per_person": lambda s: s.travel * (1 + 2 * s.road_warrior_share),
}


def _ranks(values: list[float]) -> list[int]:
    order = sorted(range(len(values)), key=values.__getitem__)
    return [order.index(position) for position in range(len(values))]


def _spearman(one: list[float], other: list[float]) -> float:
    count = len(one)
    gaps = sum((a - b) ** 2 for a, b in zip(_ranks(one), _ranks(other), strict=True))
    return 1 - 6 * gaps / (count * (count * count - 1))


def test_measured_background_moves_with_the_drawn_knobs(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    measured, drawn = [], []
    for seed in MEASURED_SEEDS:
        result = simulate(SimulationConfig(
            out=tmp_path_factory.mktemp(f"random{seed}"), style="random",
            **{**SMALL, "seed": seed}))
        measured.append(_measure(result))
        drawn.append(result.organisation.style)
        knobs = json.loads((result.folder / "company.json").read_text())["style_knobs"]
        assert knobs == json.loads(json.dumps(style_knobs(draw_random_style(seed))))
    assert len({repr(style) for style in drawn}) == len(drawn), "every seed, another company"
    why = "\n" + _table({str(seed): m for seed, m in zip(MEASURED_SEEDS, measured, strict=True)})
    for name, predict in PREDICTED.items():
        correlation = _spearman([predict(style) for style in drawn], [m[name] for m in measured])
        assert correlation >= 0.7 - 1e-9, (name, correlation, why)
    # two random organisations are further apart than the named styles' typical spread
    off_hours = [m["off_hours_logons"] for m in measured]
    media_users = [m["removable_media_users"] for m in measured]
    assert max(off_hours) - min(off_hours) > 0.15, why
    assert max(media_users) - min(media_users) > 0.2, why

"""The conformance suite: every registered detector, with every example parameter set."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Iterator
from typing import Any

import pytest

from detect_helpers import slice_of, window
from molehunt.detectors import build, registry
from molehunt.detectors.base import FINDINGS_SCHEMA, KINDS, Detector, Window
from molehunt.errors import DetectorError

CASES = [(name, params) for name, cls in registry().items()
         for params in cls.example_params()]


def _rows(table: Any) -> list[tuple[Any, ...]]:
    frame = table.to_pandas()
    rows = []
    for r in frame.itertuples(index=False):
        reasons = tuple(sorted((x["feature"], round(x["weight"], 6), x["text"])
                               for x in r.reasons))
        rows.append((r.user_id, str(r.day), r.detector, round(r.score, 6), reasons,
                     tuple(r.evidence), tuple(r.related_users)))
    return sorted(rows)


def test_registry_finds_every_module() -> None:
    import pkgutil

    import molehunt.detectors as package

    modules = {m.name for m in pkgutil.iter_modules(package.__path__)} - {"base"}
    assert set(registry()) == modules


@pytest.mark.parametrize("name", sorted(registry()))
def test_declaration(name: str) -> None:
    cls = registry()[name]
    assert cls.__module__.rsplit(".", 1)[1] == name
    assert cls.kind in KINDS
    doc = inspect.getdoc(cls) or ""
    for section in ("Scenario:", "Signals:", "False positives:"):
        assert section in doc, f"{name} docstring lacks {section}"
    assert cls.example_params(), "at least one parameter set"


@pytest.mark.parametrize(("name", "params"), CASES, ids=[f"{n}-{i}" for i, (n, _) in
                                                         enumerate(CASES)])
def test_findings_contract(detect_org: Any, name: str, params: dict[str, Any]) -> None:
    workspace, _ = detect_org
    store, whole = window(workspace)
    try:
        detector = registry()[name].from_params(params)
        # a month keeps the suite quick; the scenario tests run every detector on everything.
        # As the runner hands it over: only the feature columns it names in ``requires``
        full = slice_of(whole, 30).for_detector(detector)
        detector.fit(full)
        before = copy.deepcopy(vars(detector))
        found = detector.score(full)
        assert found.schema() == FINDINGS_SCHEMA
        frame = found.to_pandas()
        assert vars(detector).keys() == before.keys()
        assert repr(vars(detector)) == repr(before), "score() changed the detector"
        if not frame.empty:
            assert frame.score.between(0, 1).all()
            assert (frame.reasons.map(len) > 0).all(), "every finding has a reason"
            assert all(r["weight"] > 0 and r["text"] for rs in frame.reasons for r in rs)
            assert (frame.detector == name).all()
            assert not frame.duplicated(["user_id", "day"]).any(), "one finding per day"
        # fitting again learns the same state, so scores it again the same way: the scores'
        # own byte-for-byte determinism, across processes, is test_run_deterministic's
        again = registry()[name].from_params(params).fit(full)
        assert repr(vars(again)) == repr(before), "fit() is deterministic"
    finally:
        store.close()


@pytest.mark.parametrize("name", sorted(registry()))
def test_missing_columns_are_one_clear_error(detect_org: Any, name: str) -> None:
    workspace, _ = detect_org
    store, full = window(workspace)
    try:
        detector = registry()[name]()
        # a feature table with no measures at all: every detector must say what it lacks
        full.user_day = full.user_day.select("user_id", "day", "role", "department")
        with pytest.raises(DetectorError, match=name):
            detector.fit(full)
            detector.score(full)
    finally:
        store.close()


def test_unknown_parameters_and_detectors_are_errors() -> None:
    some = next(iter(registry().values()))
    with pytest.raises(DetectorError, match="unknown parameters"):
        some.from_params({"no_such_parameter": 1})
    with pytest.raises(DetectorError, match="unknown detectors"):
        build({"no_such_detector": {}})
    assert {type(d).name for d in build({some.name: {"enabled": False}})} == (
        set(registry()) - {some.name})


def test_a_new_detector_registers_itself() -> None:
    class Probe(Detector):
        """Scenario: a test. Signals: none. False positives: none."""

        name = "probe_for_test"
        kind = "rule"

        def score(self, window: Any) -> Any:
            return window.user_day

    from molehunt.detectors.base import _REGISTRY

    try:
        assert registry()["probe_for_test"] is Probe
    finally:
        _REGISTRY.pop("probe_for_test")


#: The long-horizon detectors find nothing in a week, so a week's parity would compare empty
#: tables (and their larger queries cost minutes of Spark planning each): each is compared on
#: data where it finds something, in one of these modules.
LONG_HORIZON_SPARK_TESTS = ("test_slow_detectors_spark.py", "test_reach_detectors_spark.py",
                            "test_detector_outside_work.py", "test_detector_tenure_hoarding.py")


@pytest.mark.parametrize("name", sorted(n for n, d in registry().items() if d.long_horizon))
def test_long_horizon_detectors_have_a_spark_parity_test(name: str) -> None:
    from pathlib import Path

    here = Path(__file__).parent
    covered = [f for f in LONG_HORIZON_SPARK_TESTS
               if name in (here / f).read_text("utf-8") and "spark" in (here / f).read_text(
                   "utf-8")]
    assert covered, f"{name}: no Spark parity test on data where it finds something"


@pytest.fixture(scope="module")
def both_backends(detect_org: Any) -> Iterator[tuple[Window, Window]]:
    """Windows over the detection organisation on DuckDB and on Spark, opened once: opening a
    Spark window lists and binds every file of the store (seconds each time)."""
    pytest.importorskip("pyspark")
    workspace, _ = detect_org
    duck_store, duck = window(workspace)
    spark_store, spark = window(workspace, "spark")
    try:
        yield duck, spark
    finally:
        duck_store.close()
        spark_store.close()


@pytest.mark.spark
@pytest.mark.parametrize("name", sorted(n for n, d in registry().items()
                                        if not d.long_horizon))
def test_spark_and_duckdb_agree(both_backends: tuple[Window, Window], name: str) -> None:
    duck, spark = both_backends
    # a tiny slice keeps Spark quick: one week of every person. The compiled isolation
    # forest exhausts a 2 GB Spark driver during code generation, so peer_anomaly's
    # parity is checked on its robust z ensemble (trees = 0)
    params = {"trees": 0} if name == "peer_anomaly" else {}
    detector = registry()[name].from_params(params)
    detector.fit(slice_of(duck, 7))
    twin = copy.deepcopy(detector)
    assert _rows(detector.score(slice_of(duck, 7))) == _rows(twin.score(slice_of(spark, 7)))


def test_one_findings_layout_in_ibis_and_arrow() -> None:
    from molehunt.detectors.base import REASON_TYPE
    from molehunt.pipeline import FINDINGS_ARROW, REASON_ARROW

    assert FINDINGS_SCHEMA.names == tuple(FINDINGS_ARROW.names)
    assert tuple(REASON_TYPE.names) == tuple(f.name for f in REASON_ARROW)


def test_scores_built_of_scores_compile_to_sql_that_grows_linearly() -> None:
    """A score made of clipped scores once compiled to SQL of a megabyte (Ibis's ``clip``
    repeats its argument per bound), seconds of compiling on every run of every detector."""
    import ibis

    from molehunt.detectors.base import noisy_or, saturate, unit_interval

    t = ibis.table({"x": "float64"}, name="t")

    def sql_size(depth: int) -> int:
        score = t.x
        for _ in range(depth):
            score = noisy_or(score, saturate(t.x, 1.0))
        return len(ibis.to_sql(t.select(s=unit_interval(score)), dialect="duckdb", pretty=False))

    assert sql_size(4) < 3 * sql_size(2)


def test_bounded_limits_and_reads_null_as_the_lower_bound() -> None:
    import ibis

    from molehunt.detectors.base import bounded

    t = ibis.memtable({"x": [None, -1.0, 0.5, 2.0]}, schema={"x": "float64"})
    con = ibis.duckdb.connect()
    limited = con.execute(t.select(y=bounded(t.x, 0.0, 1.0)))["y"].tolist()
    assert limited == [0.0, 0.0, 0.5, 1.0]

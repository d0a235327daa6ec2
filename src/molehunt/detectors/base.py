"""The one detector interface (DESIGN.md §5), the findings schema and shared helpers.

A detector is a dataclass whose fields are its parameters. It learns what it needs from a
history :class:`Window` (``fit``) and turns a scoring window into findings (``score``): an Ibis
table with the columns of :data:`FINDINGS_SCHEMA`, one row per person and day it finds
something about, each with at least one reason. Subclasses register themselves by name when
their module is imported; :func:`molehunt.detectors.registry` imports every module of the
package, so adding a detector is adding one file (and its test).
"""

from __future__ import annotations

import datetime as dt
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar, Self

import ibis
import ibis.expr.datatypes as dtypes

from molehunt.config import Settings
from molehunt.errors import DetectorError
from molehunt.portable import rounded

#: One reason of a finding: which measure, what was seen, what was usual, how much it counts.
REASON_TYPE = dtypes.Struct({
    "feature": dtypes.string, "observed": dtypes.float64, "expected": dtypes.float64,
    "weight": dtypes.float64, "text": dtypes.string})

#: The findings schema of DESIGN.md §4.
FINDINGS_SCHEMA = ibis.schema({
    "user_id": dtypes.string, "day": dtypes.date, "detector": dtypes.string,
    "detector_version": dtypes.int64, "score": dtypes.float64,
    "reasons": dtypes.Array(REASON_TYPE), "evidence": dtypes.Array(dtypes.string),
    "related_users": dtypes.Array(dtypes.string)})

#: The kinds a detector may declare.
KINDS = frozenset({"rule", "baseline", "sequence", "content", "graph"})

#: Columns of ``user_day`` every detector may read without naming them in ``requires``.
USER_DAY_KEYS = ("user_id", "day", "role", "department", "business_unit", "team")

#: At most this many event ids are kept as a finding's evidence (the rest are in the store).
EVIDENCE_LIMIT = 50

_REGISTRY: dict[str, type[Detector]] = {}


@dataclass
class Window:
    """Lazy tables for one time range ``[start, end]`` (both inclusive).

    ``user_day`` is the feature table of DESIGN.md §4 (one row per person and active day),
    ``events`` the event store, ``directory`` and ``hr_events`` the organisation. Tables are
    already cut to the range; ``before`` gives the days a detector may look back on.
    ``tables`` holds the further tables the workspace has, by name (``outbound``: what left,
    per person, day, channel and document; ``foreign_markings`` and ``content_matches`` of
    the content module, cut to the range by their ``day``; ``documents``, the labelled
    documents, whole); a detector names the ones it needs in ``requires`` and reads them
    with :meth:`table`.
    """

    start: dt.date
    end: dt.date
    user_day: ibis.Table
    events: ibis.Table
    directory: ibis.Table
    hr_events: ibis.Table
    settings: Settings = field(default_factory=Settings)
    backend: str = "duckdb"
    tables: dict[str, ibis.Table] = field(default_factory=dict)
    #: The observations the deployment provides (:mod:`molehunt.store.coverage`); ``None``:
    #: not known, everything is taken as observable.
    observations: frozenset[str] | None = None

    def sees(self, observation: str) -> bool:
        """Whether the deployment can see ``observation`` (e.g. ``web_direction``): a
        detector whose primary signal it cannot see scores a fallback and says so."""
        return self.observations is None or observation in self.observations

    @property
    def available(self) -> frozenset[str]:
        """Names of the tables and feature columns this window offers."""
        return frozenset({"user_day", "events", "directory", "hr_events", *self.tables,
                          *self.user_day.columns})

    def table(self, name: str) -> ibis.Table:
        """One of the further ``tables``; a clear error when the workspace lacks it."""
        if name not in self.tables:
            raise DetectorError(f"the window has no {name} table; known: "
                                f"{', '.join(sorted(self.tables)) or 'none'}")
        return self.tables[name]

    def for_detector(self, detector: Detector) -> Window:
        """The window as the runner hands it to ``detector``: ``user_day`` cut to the person,
        the day, where they sit (:data:`USER_DAY_KEYS`) and the feature columns the detector
        names in ``requires`` (whole for a detector that names none and reads what it finds).

        Every projection of the 200-column table restates each column, and compiling a
        detector's SQL took most of a small run's time, three in four of its nodes column
        references."""
        named = detector.requires & set(self.user_day.columns)
        if not named:
            return self
        kept = [c for c in self.user_day.columns if c in named or c in USER_DAY_KEYS]
        return replace(self, user_day=self.user_day.select(*kept))

    def cut(self, start: dt.date, end: dt.date) -> Window:
        """The same tables restricted to ``[start, end]``."""
        return Window(start=start, end=end,
                      user_day=self.user_day.filter(self.user_day.day.between(start, end)),
                      events=self.events.filter(self.events.day.between(start, end)),
                      directory=self.directory, hr_events=self.hr_events,
                      settings=self.settings, backend=self.backend,
                      tables={name: t.filter(t.day.between(start, end))
                              if "day" in t.columns else t
                              for name, t in self.tables.items()},
                      observations=self.observations)


@dataclass(kw_only=True)
class Detector(ABC):
    """Base of every detector; the dataclass fields are its parameters.

    Subclasses set ``name`` (equal to their module name), ``kind`` and ``requires``, document
    Scenario / Signals / False positives in their docstring and implement :meth:`score`.
    """

    name: ClassVar[str]
    version: ClassVar[int] = 1
    kind: ClassVar[str]
    requires: ClassVar[frozenset[str]] = frozenset({"user_day"})
    #: Active days before a scoring window the detector's rolling context looks back on; the
    #: runner hands it that much more history and keeps only the window's findings.
    lookback_days: ClassVar[int] = 0
    #: True for the detectors of slow, long-horizon schemes (S1-S4): ``molehunt evaluate``
    #: also reports every figure without them, to show what they add.
    long_horizon: ClassVar[bool] = False
    #: False when findings rest on no learned baseline, so that they count in full from a
    #: person's first day (risk scoring otherwise discounts a newcomer's first weeks).
    uses_baselines: ClassVar[bool] = True
    #: Observations (:data:`molehunt.store.coverage.OBSERVATIONS`) the primary signals rest
    #: on. For each one a deployment may lack, the detector either names the fallback it
    #: scores instead (``fallbacks``: observation → what stands in, said in its reasons) or
    #: cannot work without it (``essential``: the run skips it there and says so); the
    #: conformance suite checks this for every telemetry profile.
    observes: ClassVar[frozenset[str]] = frozenset()
    fallbacks: ClassVar[Mapping[str, str]] = {}
    essential: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:  # an intermediate base, not a detector
            return
        if cls.kind not in KINDS:
            raise DetectorError(f"detector {cls.name}: kind {cls.kind!r} is not one of"
                                f" {sorted(KINDS)}")
        _REGISTRY[cls.name] = cls

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Self:
        """Build the detector from a mapping of parameters, with one clear error if wrong."""
        known = {f.name for f in fields(cls)}
        unknown = set(params) - known
        if unknown:
            raise DetectorError(f"detector {cls.name}: unknown parameters {sorted(unknown)};"
                                f" known: {sorted(known)}")
        try:
            return cls(**dict(params))
        except (TypeError, ValueError) as error:
            raise DetectorError(f"detector {cls.name}: {error}") from None

    @classmethod
    def example_params(cls) -> list[dict[str, Any]]:
        """Parameter sets the shared conformance tests build the detector with."""
        return [{}]

    def check(self, window: Window) -> None:
        """Raise :class:`DetectorError` naming what the window lacks for this detector."""
        missing = sorted(self.requires - window.available)
        if missing:
            raise DetectorError(f"detector {self.name} needs {', '.join(missing)}, which the"
                                " workspace does not have; run `molehunt features` first")

    def fit(self, history: Window) -> Self:
        """Learn from ``history`` (learned state goes in attributes ending in ``_``)."""
        self.check(history)
        return self

    @abstractmethod
    def score(self, window: Window) -> ibis.Table:
        """Findings for the days of ``window`` (pure: the detector is not changed)."""


def registered() -> dict[str, type[Detector]]:
    """The detectors registered so far, by name (see :func:`molehunt.detectors.registry`)."""
    return dict(sorted(_REGISTRY.items()))


# -- helpers for building findings --------------------------------------------------------

def reason(feature: str, observed: Any, expected: Any, weight: Any, text: Any) -> Any:
    """An Ibis struct in the reason layout; ``weight`` 0 or null drops the reason later."""
    return ibis.struct({
        "feature": ibis.literal(feature, "string"),
        "observed": ibis.coalesce(ibis.literal(observed) if isinstance(observed, int | float)
                                  else observed, ibis.literal(None, "float64")).cast("float64"),
        "expected": (ibis.literal(expected) if isinstance(expected, int | float | None)
                     else expected).cast("float64"),
        "weight": (ibis.literal(weight) if isinstance(weight, int | float)
                   else weight).cast("float64"),
        "text": text if not isinstance(text, str) else ibis.literal(text, "string"),
    })


def number_text(value: Any, digits: int = 0) -> Any:
    """A numeric expression as text the same on every engine (rounded to ``digits``)."""
    if digits == 0:
        return rounded(value, 0).cast("int64").cast("string")
    scaled = rounded(value * 10 ** digits, 0).cast("int64")
    size = scaled.abs()
    whole = (size / 10 ** digits).floor().cast("int64")
    part = (size - whole * 10 ** digits).cast("string").lpad(digits, "0")
    sign = ibis.cases((scaled < 0, "-"), else_="")
    return sign.concat(whole.cast("string"), ".", part)


def empty_strings() -> Any:
    """An empty ``array<string>`` literal."""
    return ibis.literal([], type="array<string>")


def findings(table: ibis.Table, *, detector: Detector, score: Any, reasons: list[Any],
             evidence: Any = None, related_users: Any = None) -> ibis.Table:
    """Rows of ``table`` (which has ``user_id`` and ``day``) as findings.

    Reasons whose weight is null or 0 are dropped; rows left without a reason or with a
    score of 0 are dropped, so every finding explains itself.
    """
    kept = ibis.array(reasons).filter(
        lambda r: r.weight.notnull() & (r.weight > 0))
    out = table.select(
        user_id=table.user_id.cast("string"), day=table.day.cast("date"),
        detector=ibis.literal(detector.name, "string"),
        detector_version=ibis.literal(detector.version, "int64"),
        score=rounded(unit_interval(score), 4),
        reasons=kept,
        evidence=empty_strings() if evidence is None else evidence,
        related_users=empty_strings() if related_users is None else related_users)
    return out.filter(out.score > 0, out.reasons.length() > 0)


def with_evidence(found: ibis.Table, events: ibis.Table,
                  matches: Callable[[ibis.Table], Any],
                  limit: int = EVIDENCE_LIMIT) -> ibis.Table:
    """``found`` (findings) with ``evidence`` = ids of that person's matching events that day.

    Only the people and days of ``found`` are looked at, so the event scan is pruned.
    """
    keys = found.select(k_user=found.user_id, k_day=found.day).distinct()
    chosen = events.filter(matches(events))
    chosen = chosen.join(keys, [chosen.user_id == keys.k_user, chosen.day == keys.k_day])
    ids = chosen.group_by(e_user=chosen.user_id, e_day=chosen.day).aggregate(
        ids=chosen.event_id.collect())
    joined = found.left_join(ids, [found.user_id == ids.e_user, found.day == ids.e_day])
    evidence = ibis.coalesce(joined.ids.sort()[:limit], empty_strings())
    return joined.select(*[c for c in FINDINGS_SCHEMA.names if c != "evidence"],
                         evidence=evidence).select(*FINDINGS_SCHEMA.names)


#: Actions that show someone at a computer (not meetings, badges or received mail).
AT_A_COMPUTER = ("logon", "file_open", "file_write", "file_copy", "file_delete", "web_visit",
                 "email_send", "device_connect", "print")


def machine_owners(events: ibis.Table, min_share: float = 0.5) -> ibis.Table:
    """Each computer's main user (``w_host``, ``w_owner``), learned from the events.

    A computer belongs to the person active at it on most days, if that is at least
    ``min_share`` of its days (otherwise it is shared and has no owner); ties go to the
    alphabetically first person, so the result is deterministic on every engine.
    """
    e = events.filter(events.host.notnull(), events.action.isin(AT_A_COMPUTER))
    used = e.select(o_user=e.user_id, o_day=e.day, o_host=e.host).distinct()
    per_user = used.group_by(used.o_host, used.o_user).aggregate(o_days=used.count())
    totals = per_user.group_by(t_host=per_user.o_host).aggregate(
        t_days=per_user.o_days.sum(), t_top=per_user.o_days.max())
    ranked = per_user.join(totals, [per_user.o_host == totals.t_host,
                                    per_user.o_days == totals.t_top])
    first = ibis.window(group_by=ranked.o_host, order_by=ranked.o_user)
    return ranked.filter(ibis.row_number().over(first) == 0).filter(
        lambda t: t.t_top >= min_share * t.t_days).select(
        w_host=lambda t: t.o_host, w_owner=lambda t: t.o_user)


def domain_pattern(window: Window, category: str) -> str:
    """A regular expression matching the domains of one category (and their subdomains) known
    to the workspace: the shipped list extended by its category files and competitors."""
    from molehunt.domains import load_domain_categories

    settings = window.settings
    known = load_domain_categories(settings.domain_category_files, settings.competitors)
    names = known.domains(category) or [f"{category.replace('_', '-')}.invalid"]
    return "(^|\\.)(" + "|".join(re.escape(d) for d in names) + ")$"


def saturate(value: Any, half: float) -> Any:
    """``value / (value + half)``: 0 at 0, 0.5 at ``half``, approaching 1; monotone."""
    v = ibis.greatest(value.cast("float64"), 0.0)
    return v / (v + half)


def exact_round(value: Any, digits: int = 4) -> Any:
    """``value`` rounded half up to ``digits`` the same way on every engine.

    Engines round a double that lies at a half (0.18125) differently (one by its decimal
    expansion, one by scaling first); ``floor(x * 10^d + 0.5)`` is plain IEEE arithmetic,
    so DuckDB and Spark agree.
    """
    scale = 10 ** digits
    return (value.cast("float64") * scale + 0.5).floor().cast("float64") / scale


def bounded(value: Any, low: float, high: float) -> Any:
    """``value`` limited to [``low``, ``high``]; null counts as ``low``.

    Written with ``greatest``/``least``, which name ``value`` once: Ibis's ``clip`` repeats
    its argument for each bound, and scores built of clipped scores grew into SQL of up to a
    megabyte, seconds of compiling on every run (both engines skip null in these two).
    """
    return ibis.least(ibis.greatest(value, low), high)


def unit_interval(value: Any) -> Any:
    """``value`` limited to [0, 1]; null counts as 0 (a score that says nothing)."""
    return bounded(value, 0.0, 1.0)


def noisy_or(*scores: Any) -> Any:
    """1 - Π(1 - s): independent pieces of evidence add up without exceeding 1."""
    product: Any = ibis.literal(1.0)
    for s in scores:
        product = product * (1.0 - unit_interval(s))  # null: no evidence
    return 1.0 - product


def damp_repeats(t: ibis.Table, strength: Any, quiet_days: int, growth: float,
                 factor: float) -> tuple[ibis.Table, Any, Any]:
    """``t`` (with ``user_id`` and ``x``, the day as a number) with ``_strength`` and
    ``_before`` (the strongest of the person's candidate days in the ``quiet_days`` before),
    whether the day is fresh, and the factor for its score.

    A finding counts in full when it is new or its strength has grown by ``growth`` times;
    a day that only repeats what was already found counts ``factor`` of it, so a lead that
    analysts already have does not hold a place in every day's reading list (risk decays;
    it comes back when the evidence grows).
    """
    t = t.mutate(_strength=strength)
    earlier = ibis.window(group_by=t.user_id, order_by=t.x, range=(-quiet_days, -1))
    t = t.mutate(_before=t._strength.max().over(earlier).fill_null(0.0))
    fresh = (t._before <= 0) | (t._strength >= growth * t._before)
    return t, fresh, ibis.ifelse(fresh, 1.0, factor)

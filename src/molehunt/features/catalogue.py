"""The feature catalogue: every column molehunt computes per person and day, with its meaning.

Scoring and the console explain themselves with these definitions, so each is written for an
analyst: what was counted, in which unit, over which window. Column names follow
``<measure>_<qualifier>_<window>`` (``files_to_removable_1d``); deviations add what the value is
compared with (``files_to_removable_z_self_90d``).

A family module in :mod:`molehunt.features.families` declares its features with
:class:`Feature` and registers itself by defining ``FAMILY``; nothing else lists them.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from molehunt.errors import ConfigError

#: Units a feature can have (what its numbers count).
UNITS: Mapping[str, str] = {
    "events": "number of events",
    "bytes": "bytes",
    "documents": "number of distinct documents",
    "hosts": "number of distinct computers",
    "values": "number of distinct values",
    "pages": "printed pages",
    "hour": "hour of the day, 0-24 (UTC, fractional)",
    "hours": "hours",
    "days": "days",
    "level": "sensitivity level 0 public … 4 crown jewel",
    "flag": "1 yes, 0 no",
    "z": "deviation in robust standard deviations (0 = usual)",
}

#: How a daily feature combines into a week (``user_week``).
WEEKLY = ("sum", "max", "min", "mean", "last")


@dataclass(frozen=True)
class Feature:
    """One column of the per person × day table and what it means.

    ``observes`` names the observations (:data:`molehunt.store.coverage.OBSERVATIONS`) the
    value rests on, all of them needed: on a day the deployment does not cover one of them
    (outside its coverage span, or no source provides it) the value is null, *cannot see*
    (DESIGN.md §6b). A count over several observations, each of which adds what it sees
    (``events_out_1d``: mail, uploads, copies, prints), declares none. Derived columns (the
    deviations, the week) inherit it.

    On a day the person was active and the observation is covered, a count or byte total is
    0 when nothing was seen (*saw none*), never null; ``null`` there means "did not apply that
    day" (no labelled document read, no activity to time, no HR record).
    """

    name: str
    family: str
    unit: str
    definition: str
    window: str = "1d"
    weekly: str = "sum"
    #: Compared with the person's own history (30, 90, 365 days) and with peers.
    baseline: bool = False
    #: Compared with peers only (the signal is "more than people in the same role").
    peers: bool = False
    #: The observations the value rests on (all needed); empty: nothing specific.
    observes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ConfigError(f"feature {self.name}: unknown unit {self.unit!r}")
        if self.weekly not in WEEKLY:
            raise ConfigError(f"feature {self.name}: unknown weekly rule {self.weekly!r}")
        if not self.name.endswith("_" + self.window):
            raise ConfigError(f"feature {self.name}: the name must end with its window")
        from molehunt.store.coverage import OBSERVATIONS

        unknown = [o for o in self.observes if o not in OBSERVATIONS]
        if unknown:
            raise ConfigError(f"feature {self.name}: unknown observation(s) {unknown}")

    @property
    def measure(self) -> str:
        """The name without its window, the stem of derived columns."""
        return self.name[: -len(self.window) - 1]


#: ``aggregate(events) -> {feature name: Ibis aggregate expression}`` over enriched events.
Aggregates = Callable[[Any], dict[str, Any]]


@dataclass(frozen=True)
class Family:
    """A family of features: its columns and how they are computed.

    ``aggregates`` returns aggregate expressions over the enriched events (see
    :mod:`molehunt.features.enrich`), all computed in one pass. ``derive`` computes columns that
    need other tables (HR events, the directory, first-seen history): it receives the
    :class:`~molehunt.features.build.FeatureInputs` and returns a table keyed by
    ``user_id, day`` holding its features (a family with both: those its aggregates leave out,
    e.g. distinct counts, which would split the one pass).
    """

    name: str
    title: str
    features: tuple[Feature, ...]
    aggregates: Aggregates | None = None
    derive: Callable[[Any], Any] | None = None
    order: int = 100
    notes: str = ""


@cache
def families() -> tuple[Family, ...]:
    """Every registered family, in catalogue order (modules scanned once)."""
    from molehunt.features import families as package

    found: list[Family] = []
    for module in pkgutil.iter_modules(package.__path__):
        loaded = importlib.import_module(f"{package.__name__}.{module.name}")
        family = getattr(loaded, "FAMILY", None)
        if isinstance(family, Family):
            found.append(family)
    found.sort(key=lambda f: (f.order, f.name))
    names = [f.name for family in found for f in family.features]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ConfigError(f"features defined twice: {', '.join(duplicated)}")
    return tuple(found)


def catalogue() -> tuple[Feature, ...]:
    """Every daily feature, family by family."""
    return tuple(f for family in families() for f in family.features)


def feature(name: str) -> Feature:
    """The feature called ``name`` (a daily column)."""
    for candidate in catalogue():
        if candidate.name == name:
            return candidate
    raise ConfigError(f"no feature called {name!r}; `molehunt features list` shows them")

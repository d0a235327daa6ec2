"""The scenario interface: how an insider scenario picks its people and acts day by day.

A scenario module defines one :class:`Scenario` subclass; subclasses register themselves, so
adding a scenario is adding one module. Every event a scenario writes or alters carries a
:class:`~molehunt.simulate.buffer.Label`, which becomes a row of ``answers/labels.csv``.
"""

from __future__ import annotations

import importlib
import pkgutil
import random
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from molehunt.simulate.background import World, domains_of, url_for
from molehunt.simulate.buffer import DayBuffer, Label, Session
from molehunt.simulate.documents import Document
from molehunt.simulate.organisation import Person

_REGISTRY: dict[str, type[Scenario]] = {}


@dataclass
class Instance:
    """One occurrence of a scenario: its people, its period and its parameters."""

    code: str
    name: str  # e.g. "C2-1"
    insider: Person
    start: int  # first day index of malicious activity
    end: int  # last day index of malicious activity
    params: dict[str, float]
    members: dict[int, str] = field(default_factory=dict)  # person index → role
    state: dict[str, Any] = field(default_factory=dict)
    details: str = ""

    def label(self, person: Person, role: str | None = None) -> Label:
        """The label of an event done by ``person`` in this instance."""
        return Label(self.code, self.name, person.user_id,
                     role or self.members.get(person.index, "insider"))


class Scenario(ABC):
    """An insider scenario of DESIGN.md §6."""

    code: ClassVar[str]
    title: ClassVar[str]
    #: Intensity parameters and their defaults (``volume`` is relative to the insider's own
    #: baseline, ``duration`` in days).
    defaults: ClassVar[Mapping[str, float]]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "code" in cls.__dict__:
            if cls.code in _REGISTRY and _REGISTRY[cls.code] is not cls:
                raise ValueError(f"scenario {cls.code} is defined twice")
            _REGISTRY[cls.code] = cls

    @abstractmethod
    def plan(self, world: World, rng: random.Random, params: dict[str, float],
             taken: set[int], name: str) -> Instance | None:
        """Choose the people and the period; change what must change (e.g. a departure).

        Returns ``None`` when the organisation has nobody who fits.
        """

    @abstractmethod
    def act(self, instance: Instance, world: World, day: int, buffer: DayBuffer) -> None:
        """Add or alter the events of ``day``; called after the background of the day."""

    # helpers shared by the scenarios
    @staticmethod
    def rng(world: World, instance: Instance, day: int) -> random.Random:
        """The instance's random stream for one day."""
        return random.Random(f"scenario/{world.seed}/{instance.name}/{day}")

    @staticmethod
    def session(buffer: DayBuffer, person: Person) -> Session | None:
        """The person's working hours today, if they work."""
        return buffer.sessions.get(person.index)

    @classmethod
    def working_day(cls, instance: Instance, world: World, day: int,
                    buffer: DayBuffer) -> tuple[Session, random.Random, Label] | None:
        """The insider's session, the day's random stream and the label, on a day of the
        instance's period the insider works; ``None`` on any other day."""
        session = buffer.sessions.get(instance.insider.index)
        if not instance.start <= day <= instance.end or session is None:
            return None
        return session, cls.rng(world, instance, day), instance.label(instance.insider)

    @staticmethod
    def during(session: Session, rng: random.Random) -> int:
        """A second inside the day's main session."""
        return rng.randrange(session.start, max(session.start + 1, session.end))

    @staticmethod
    def before_midnight(at: int, lasting: int) -> int:
        """``at``, moved earlier if an act of ``lasting`` seconds starting then would run past
        the day's last second (a session ending near midnight; the day's files hold times of
        that day only).

        >>> Scenario.before_midnight(36000, 1000), Scenario.before_midnight(86300, 1000)
        (36000, 85399)
        """
        return min(at, 86399 - lasting)

    @staticmethod
    def web(buffer: DayBuffer, person: Person, at: int, domain: str, category: str,
            activity: str, content: str, label: Label, rng: random.Random,
            document: Document | None = None) -> None:
        """A web event of the scenario (``document``: the file an upload carries)."""
        row = [at, person.user_id, person.pc,
               url_for(domain, category, rng, activity == "WWW Upload"), activity, content,
               label, (domain, category)]
        if document is not None:
            row.append(document)
        buffer.http.append(row)


def load_scenarios() -> dict[str, type[Scenario]]:
    """Import every scenario module of this package; return code → class."""
    package = importlib.import_module("molehunt.simulate.scenarios")
    for module in pkgutil.iter_modules(package.__path__):
        if not module.name.startswith("_") and module.name != "base":
            importlib.import_module(f"{package.__name__}.{module.name}")
    return dict(sorted(_REGISTRY.items()))


def employed_through(person: Person, first: int, last: int) -> bool:
    """Whether the person works for the company on every day of ``first..last``."""
    return person.hire_day <= first and (person.leave_day is None or person.leave_day > last)


def documents_by_sensitivity(world: World, person: Person, low: int, high: int,
                             day: int, wide: bool = False) -> list[Document]:
    """Documents the person can reach with sensitivity in ``low..high`` created by ``day``.

    ``wide``: any department's documents, not only those the person normally reads.
    """
    pool = world.documents if wide else world.state(person).readable
    return [d for d in pool if low <= d.sensitivity <= high and d.created <= day]


def pick_domain(category: str, rng: random.Random) -> str:
    """A domain of the category."""
    return rng.choice(domains_of(category))

"""C5 layoff survivor: after layoffs hit the group, documents go to cloud storage."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import ClassVar

from molehunt.simulate.background import World, excerpt
from molehunt.simulate.buffer import DayBuffer
from molehunt.simulate.scenarios.base import (
    Instance,
    Scenario,
    documents_by_sensitivity,
    employed_through,
    pick_domain,
)


class LayoffSurvivor(Scenario):
    """A member of a group decimated by layoffs uploads documents to cloud storage."""

    code = "C5"
    title = "layoff survivor"
    defaults: ClassVar[Mapping[str, float]] = {"duration": 35.0, "volume": 1.0, "delay": 7.0}

    def plan(self, world: World, rng: random.Random, params: dict[str, float],
             taken: set[int], name: str) -> Instance | None:
        """A survivor of a layoff wave, starting a few days after it."""
        duration = int(params["duration"])
        for day, department, laid_off in world.layoffs:
            start = day + int(params["delay"])
            end = min(world.org.days - 1, start + duration - 1)
            if end - start < 5:
                continue
            people = [world.org.people[i] for i in world.org.departments[department]]
            survivors = [p for p in people if p.index not in taken and p.index not in laid_off
                         and employed_through(p, day - 45, end)]
            if survivors:
                instance = Instance(self.code, name, rng.choice(survivors), start, end, params)
                instance.details = f"layoff of {department} on day {day}"
                return instance
        return None

    def act(self, instance: Instance, world: World, day: int, buffer: DayBuffer) -> None:
        """On about half of the working days, a few uploads of the group's documents."""
        today = self.working_day(instance, world, day, buffer)
        if today is None or today[1].random() > 0.5:
            return
        session, rng, label = today
        person = instance.insider
        site = instance.state.setdefault("site", pick_domain("cloud_storage", rng))
        pool = documents_by_sensitivity(world, person, 1, 4, day)
        for _ in range(max(1, round(rng.randrange(1, 5) * instance.params["volume"]))):
            document = rng.choice(pool)
            self.web(buffer, person, self.during(session, rng), site, "cloud_storage",
                     "WWW Upload", excerpt(document, rng, 600), label, rng, document)

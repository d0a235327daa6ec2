"""S4 undeclared outside work: expert-network profiles and paid calls that were never declared."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import ClassVar

from molehunt.simulate.background import World, email_row, excerpt
from molehunt.simulate.buffer import DayBuffer
from molehunt.simulate.scenarios.base import (
    Instance,
    Scenario,
    documents_by_sensitivity,
    employed_through,
    pick_domain,
)


class UndeclaredOutsideWork(Scenario):
    """Creates an expert-network profile, then contacts intermediaries more and more often,
    and what is sent grows more sensitive with it; no outside engagement is ever declared."""

    code = "S4"
    title = "undeclared outside work"
    defaults: ClassVar[Mapping[str, float]] = {"duration": 365.0, "volume": 1.0}

    def plan(self, world: World, rng: random.Random, params: dict[str, float],
             taken: set[int], name: str) -> Instance | None:
        """A specialist or manager who has not declared any engagement."""
        days = world.org.days
        start = rng.randrange(max(45, days // 6), max(46, days // 3) + 1)
        end = min(days - 1, start + int(params["duration"]) - 1)
        if end - start < 30:
            return None
        people = [p for p in world.org.people if p.index not in taken
                  and p.profile in {"engineer", "manager", "sales"}
                  and "declared_consultant" not in p.lookalikes
                  and employed_through(p, start - 45, end)]
        if not people:
            return None
        instance = Instance(self.code, name, rng.choice(people), start, end, params)
        network = pick_domain("expert_network", rng)
        instance.state.update(network=network, contacts=[
            f"projects{rng.randrange(1, 9)}@{network}",
            f"calls@{pick_domain('expert_network', rng)}"])
        return instance

    def act(self, instance: Instance, world: World, day: int, buffer: DayBuffer) -> None:
        """A profile on day one; then contacts whose rate and sensitivity rise together."""
        today = self.working_day(instance, world, day, buffer)
        if today is None:
            return
        session, rng, label = today
        person = instance.insider
        network = instance.state["network"]
        if not instance.state.get("profile"):
            instance.state["profile"] = day
            self.web(buffer, person, self.during(session, rng), network, "expert_network",
                     "WWW Upload", f"profile {person.role} experience expertise industry",
                     label, rng)
        progress = (day - instance.start) / max(1, instance.end - instance.start)
        volume = instance.params["volume"]
        if rng.random() < (0.05 + 0.3 * progress) * volume:
            self.web(buffer, person, self.during(session, rng), network, "expert_network",
                     "WWW Visit", world.web_text("expert_network", rng), label, rng)
        if rng.random() < (0.03 + 0.25 * progress) * volume:
            level = min(4, max(1, round(1 + 3 * progress + rng.gauss(0, 0.6))))
            pool = documents_by_sensitivity(world, person, level, level, day) or \
                documents_by_sensitivity(world, person, 0, 4, day)
            document = rng.choice(pool)
            attach = [document] if rng.random() < 0.3 else []
            buffer.email.append(email_row(
                self.during(session, rng), person, [rng.choice(instance.state["contacts"])],
                excerpt(document, rng, rng.randrange(200, 900)), attach, rng, label=label))

"""S2 recruiter hub: colleagues in other teams feed one person, who passes it all out."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import ClassVar

from molehunt.simulate.background import World, email_row
from molehunt.simulate.buffer import DayBuffer
from molehunt.simulate.documents import Document
from molehunt.simulate.organisation import Person
from molehunt.simulate.scenarios.base import Instance, Scenario, employed_through
from molehunt.simulate.vocabulary import LAST_NAMES


class RecruiterHub(Scenario):
    """Accomplices in other teams forward sensitive documents to the hub now and then; the
    hub sends them on to relatives' personal addresses, which some accomplices also write to
    directly. Each accomplice alone looks only mildly odd."""

    code = "S2"
    title = "recruiter hub"
    defaults: ClassVar[Mapping[str, float]] = {"duration": 300.0, "accomplices": 3.0, "volume": 1.0}

    def plan(self, world: World, rng: random.Random, params: dict[str, float],
             taken: set[int], name: str) -> Instance | None:
        """A hub and accomplices from other teams who own sensitive documents."""
        days = world.org.days
        start = rng.randrange(max(40, days // 6), max(41, days // 3) + 1)
        end = min(days - 1, start + int(params["duration"]) - 1)
        if end - start < 30:
            return None
        org = world.org
        fits = [p for p in org.people if p.index not in taken
                and p.profile not in {"it_admin", "security", "executive"}
                and employed_through(p, start - 40, end)]
        if len(fits) < 2:
            return None
        hub = rng.choice(fits)
        others = [p for p in fits if p.team != hub.team and p is not hub
                  and any(d.sensitivity >= 2 for d in world.state(p).own)]
        rng.shuffle(others)
        chosen: list[Person] = []
        for person in others:  # prefer different departments
            if len(chosen) >= int(params["accomplices"]):
                break
            if all(person.department != c.department for c in chosen) or len(others) < 20:
                chosen.append(person)
        if not chosen:
            return None
        instance = Instance(self.code, name, hub, start, end, params)
        instance.members[hub.index] = "hub"
        for person in chosen:
            instance.members[person.index] = "accomplice"
            taken.add(person.index)
        surname = hub.name.split()[-1].lower()
        relatives = [f"{rng.choice(LAST_NAMES).lower()}.{surname}{rng.randrange(10, 99)}"
                     f"@{rng.choice(('gmail.com', 'yahoo.com', '163.com'))}" for _ in range(2)]
        instance.state.update(relatives=relatives, inbox=[], accomplices=chosen)
        return instance

    def act(self, instance: Instance, world: World, day: int, buffer: DayBuffer) -> None:
        """Accomplices forward now and then; the hub sends on what arrived days before."""
        if not instance.start <= day <= instance.end:
            return
        rng = self.rng(world, instance, day)
        hub = instance.insider
        relatives: list[str] = instance.state["relatives"]
        inbox: list[tuple[int, Document]] = instance.state["inbox"]
        rate = 2.0 * instance.params["volume"] / 21  # about twice a month per accomplice
        for person in instance.state["accomplices"]:
            session = self.session(buffer, person)
            if session is None or rng.random() >= rate:
                continue
            label = instance.label(person)
            sensitive = [d for d in world.state(person).own if d.sensitivity >= 2
                         and d.created <= day]
            if not sensitive:
                continue
            document = rng.choice(sensitive)
            if rng.random() < 0.25:
                buffer.email.append(email_row(self.during(session, rng), person,
                                              [rng.choice(relatives)], "as discussed",
                                              [document], rng, label=label))
            else:
                buffer.email.append(email_row(self.during(session, rng), person, [hub.email],
                                              "fyi see attached", [document], rng, label=label))
                inbox.append((day, document))
        session = self.session(buffer, hub)
        ready = [item for item in inbox if item[0] <= day - 1]
        if session is None or not ready or rng.random() >= 0.6:
            return
        label = instance.label(hub)
        documents = [document for _, document in ready[:3]]
        del inbox[:len(documents)]
        for address in rng.sample(relatives, rng.choice((1, 1, 2))):
            buffer.email.append(email_row(self.during(session, rng), hub, [address], "for you",
                                          documents, rng, label=label))

"""C4 snooper: other people's machines, their files, mailed home, more and more often."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import ClassVar

from molehunt.simulate.background import World, email_row, file_row
from molehunt.simulate.buffer import DayBuffer
from molehunt.simulate.scenarios.base import Instance, Scenario, employed_through


class Snooper(Scenario):
    """Logs on to colleagues' machines, opens their files and mails them to a personal
    address, more and more often over about three months."""

    code = "C4"
    title = "snooper"
    defaults: ClassVar[Mapping[str, float]] = {"duration": 90.0, "volume": 1.0, "victims": 4.0}

    def plan(self, world: World, rng: random.Random, params: dict[str, float],
             taken: set[int], name: str) -> Instance | None:
        """Someone with colleagues in the department who are there for the whole period."""
        days = world.org.days
        duration = int(params["duration"])
        low, high = max(45, days // 5), days - duration - 2
        if high < low:
            return None
        start = rng.randrange(low, high + 1)
        end = start + duration - 1
        org = world.org
        people = [p for p in org.people if p.index not in taken
                  and p.profile not in {"it_admin", "security"}
                  and employed_through(p, start - 45, end)]
        rng.shuffle(people)
        for insider in people:
            victims = [org.people[i] for i in org.departments[insider.department]
                       if i != insider.index and employed_through(org.people[i], start, end)
                       and world.state(org.people[i]).own]
            if len(victims) >= 2:
                instance = Instance(self.code, name, insider, start, end, params)
                instance.state["victims"] = rng.sample(victims, min(len(victims),
                                                                    int(params["victims"])))
                return instance
        return None

    def act(self, instance: Instance, world: World, day: int, buffer: DayBuffer) -> None:
        """More likely each week: a colleague's machine, their files, a mail home."""
        today = self.working_day(instance, world, day, buffer)
        if today is None:
            return
        session, rng, label = today
        person = instance.insider
        progress = (day - instance.start + 1) / (instance.end - instance.start + 1)
        if rng.random() >= min(0.95, (0.1 + 0.7 * progress) * instance.params["volume"]):
            return
        victim = rng.choice(instance.state["victims"])
        at = self.before_midnight(self.during(session, rng), 1000)
        buffer.logon.append([at, person.user_id, victim.pc, "Logon", label])
        found = [d for d in world.state(victim).own if d.created <= day]
        taken = []
        for _ in range(rng.randrange(1, 4 + round(4 * progress))):
            document = rng.choice(found)
            taken.append(document)
            buffer.file.append(file_row(at + rng.randrange(30, 900), person, victim.pc,
                                        document, document.path, "File Open", rng, label=label))
        buffer.logon.append([at + 1000, person.user_id, victim.pc, "Logoff", label])
        if rng.random() < 0.4 + 0.5 * progress:
            attachments = sorted(set(taken), key=lambda d: d.doc_id)[:3]
            buffer.email.append(email_row(min(86399, at + rng.randrange(1100, 4000)), person,
                                          [person.personal_email], "fyi", attachments, rng,
                                          label=label))

"""C1 after-hours leaker: night logons, first-ever removable media, an upload to a leak site."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import ClassVar

from molehunt.simulate.background import World, excerpt, file_row
from molehunt.simulate.buffer import DayBuffer
from molehunt.simulate.scenarios.base import (
    Instance,
    Scenario,
    documents_by_sensitivity,
    employed_through,
)
from molehunt.simulate.vocabulary import LEAK_DOMAINS


class AfterHoursLeaker(Scenario):
    """Starts logging on after hours, uses removable media for the first time, uploads to a
    leak site and leaves soon after."""

    code = "C1"
    title = "after-hours leaker"
    defaults: ClassVar[Mapping[str, float]] = {
        "duration": 21.0, "volume": 1.0, "nights": 0.5, "leave_after": 10.0}

    def plan(self, world: World, rng: random.Random, params: dict[str, float],
             taken: set[int], name: str) -> Instance | None:
        """Someone who has never used removable media; they leave after the episode."""
        days = world.org.days
        duration = int(params["duration"])
        after = int(params["leave_after"])
        if world.fixed_tenure:  # the directory says who leaves when: pick such a person
            people = [p for p in world.org.people if p.index not in taken
                      and p.habits.media_days == 0 and p.profile not in {"it_admin", "security"}
                      and p.leave_day is not None
                      and p.leave_day - after - duration >= max(p.hire_day, 0) + 45]
            if not people:
                return None
            insider = rng.choice(people)
            insider.departure = "silent"
            end = (insider.leave_day or 0) - 1 - after
            start = end - duration + 1
            return Instance(self.code, name, insider, start, end, params)
        low, high = max(45, days // 5), days - duration - after - 3
        if high < low:
            return None
        start = rng.randrange(low, high + 1)
        end = start + duration - 1
        people = [p for p in world.org.people if p.index not in taken
                  and p.habits.media_days == 0 and p.profile not in {"it_admin", "security"}
                  and p.leave_day is None and employed_through(p, start - 45, end + after)]
        if not people:
            return None
        insider = rng.choice(people)
        insider.leave_day, insider.departure = end + 1 + after, "silent"
        return Instance(self.code, name, insider, start, end, params)

    def act(self, instance: Instance, world: World, day: int, buffer: DayBuffer) -> None:
        """On some nights: logon, connect a drive, copy files, sometimes upload to a leak site."""
        if not instance.start <= day <= instance.end:
            return
        rng = self.rng(world, instance, day)
        if day not in (instance.start, instance.end) and rng.random() >= instance.params[
                "nights"]:
            return
        person = instance.insider
        label = instance.label(person)
        at = rng.choice((rng.randrange(22 * 3600, 23 * 3600 + 1800),
                         rng.randrange(1800, 5 * 3600)))
        leave = min(86399, at + rng.randrange(1800, 5400))
        buffer.logon.append([at, person.user_id, person.pc, "Logon", label])
        buffer.device.append([at + 120, person.user_id, person.pc, "Connect", "R:\\", label])
        pool = documents_by_sensitivity(world, person, 1, 4, day)
        for _ in range(max(1, round(rng.randrange(3, 12) * instance.params["volume"]))):
            document = rng.choice(pool)
            buffer.file.append(file_row(rng.randrange(at + 180, leave - 300), person,
                                        person.pc, document,
                                        "R:\\" + document.path.rsplit("\\", 1)[1], "File Copy",
                                        rng, to_media=True, label=label))
        buffer.device.append([leave - 200, person.user_id, person.pc, "Disconnect", None, label])
        if day == instance.end or rng.random() < 0.35:
            document = rng.choice(pool)
            self.web(buffer, person, leave - 120, rng.choice(LEAK_DOMAINS), "paste_leak",
                     "WWW Upload", excerpt(document, rng, 800), label, rng, document)
        buffer.logon.append([leave, person.user_id, person.pc, "Logoff", label])

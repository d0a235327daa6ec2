"""C2 job-seeking thief: job sites and a competitor, then far more removable media, then gone."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import ClassVar

from molehunt.simulate.background import World, email_row, file_row
from molehunt.simulate.buffer import DayBuffer
from molehunt.simulate.scenarios.base import (
    Instance,
    Scenario,
    documents_by_sensitivity,
    employed_through,
    pick_domain,
)
from molehunt.simulate.vocabulary import COMPETITOR_DOMAINS


class JobSeekingThief(Scenario):
    """Browses job sites and writes to a competitor, then copies far more to removable media
    than before (``volume`` times their own habit), resigns and leaves."""

    code = "C2"
    title = "job-seeking thief"
    defaults: ClassVar[Mapping[str, float]] = {"duration": 56.0, "volume": 6.0, "job_visits": 8.0}

    def plan(self, world: World, rng: random.Random, params: dict[str, float],
             taken: set[int], name: str) -> Instance | None:
        """A removable-media user who is not in IT; resigns two weeks before leaving."""
        days = world.org.days
        duration = int(params["duration"])
        if world.fixed_tenure:  # the directory says who leaves when: pick such a person
            people = [p for p in world.org.people if p.index not in taken
                      and p.habits.media_days > 0 and p.profile not in {"it_admin", "security"}
                      and p.leave_day is not None
                      and p.leave_day - 2 - duration >= max(p.hire_day, 0) + 60]
            if not people:
                return None
            insider = rng.choice(people)
            insider.searches_before_leaving = False
            end = (insider.leave_day or 0) - 2
            return Instance(self.code, name, insider, end - duration + 1, end, params)
        low, high = max(60, days // 5), days - duration - 5
        if high < low:
            return None
        start = rng.randrange(low, high + 1)
        end = start + duration - 1
        people = [p for p in world.org.people if p.index not in taken
                  and p.habits.media_days > 0 and p.profile not in {"it_admin", "security"}
                  and p.leave_day is None and employed_through(p, start - 60, end + 3)]
        if not people:
            return None
        insider = rng.choice(people)
        insider.leave_day = end + 1 + rng.randrange(0, 3)
        # the scenario's own job search replaces an honest leaver's
        insider.departure, insider.searches_before_leaving = "resign", False
        return Instance(self.code, name, insider, start, end, params)

    def act(self, instance: Instance, world: World, day: int, buffer: DayBuffer) -> None:
        """Job search in the first two thirds, the theft in the last third."""
        today = self.working_day(instance, world, day, buffer)
        if today is None:
            return
        session, rng, label = today
        person = instance.insider
        third = instance.start + (instance.end - instance.start) * 2 // 3
        if day < third:
            for _ in range(rng.randrange(1, 2 * int(instance.params["job_visits"]) + 1)):
                self.web(buffer, person, self.during(session, rng),
                         pick_domain("job_board", rng), "job_board", "WWW Visit",
                         "jobs career resume apply position salary interview", label, rng)
            if rng.random() < 0.12:
                competitor = rng.choice(COMPETITOR_DOMAINS)
                buffer.email.append(email_row(
                    self.during(session, rng), person, [f"careers@{competitor}"],
                    "application for the open position resume attached experience", [], rng,
                    label=label))
            return
        if rng.random() > 0.7:
            return
        connect = self.during(session, rng)
        buffer.device.append([connect, person.user_id, person.pc, "Connect", "R:\\", label])
        pool = documents_by_sensitivity(world, person, 1, 4, day)
        copies = max(2, round(person.habits.media_files * instance.params["volume"]
                              * rng.uniform(0.6, 1.4)))
        for _ in range(copies):
            document = rng.choice(pool)
            buffer.file.append(file_row(min(86000, connect + rng.randrange(60, 3000)), person,
                                        person.pc, document,
                                        "R:\\" + document.path.rsplit("\\", 1)[1], "File Copy",
                                        rng, to_media=True, label=label))
        buffer.device.append([min(86399, connect + 3300), person.user_id, person.pc,
                              "Disconnect", None, label])

"""C3 disgruntled administrator: a keylogger, the supervisor's machine, a mass mail as them."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import ClassVar

from molehunt.simulate.background import World, email_row, file_row
from molehunt.simulate.buffer import DayBuffer
from molehunt.simulate.scenarios.base import Instance, Scenario, employed_through, pick_domain


class DisgruntledAdmin(Scenario):
    """An administrator with a performance concern downloads a keylogger, carries it by
    removable media to the supervisor's machine, next day logs on as the supervisor after
    hours and mass-mails an alarming message, and is gone the day after."""

    code = "C3"
    title = "disgruntled administrator"
    defaults: ClassVar[Mapping[str, float]] = {"recipients": 60.0, "grievance_days": 20.0}

    def plan(self, world: World, rng: random.Random, params: dict[str, float],
             taken: set[int], name: str) -> Instance | None:
        """An IT administrator whose supervisor works for the whole episode."""
        days = world.org.days
        if world.fixed_tenure:  # an administrator the directory says leaves
            people = [p for p in world.org.people if p.index not in taken
                      and p.profile == "it_admin" and p.supervisor is not None
                      and p.supervisor not in taken and p.leave_day is not None
                      and p.leave_day - 2 >= max(p.hire_day, 0) + 60
                      and employed_through(world.org.people[p.supervisor], p.leave_day - 2,
                                           p.leave_day)]
            if not people:
                return None
            insider = rng.choice(people)
            start = (insider.leave_day or 0) - 2
        else:
            low, high = max(60, days // 5), days - 5
            if high < low:
                return None
            start = rng.randrange(low, high + 1)
            while world.org.day_date(start).weekday() >= 4:  # a working day, then another
                start -= 1
            people = [p for p in world.org.people if p.index not in taken
                      and p.profile == "it_admin" and p.supervisor is not None
                      and p.leave_day is None and employed_through(p, start - 60, start + 2)
                      and employed_through(world.org.people[p.supervisor], start, start + 2)
                      and p.supervisor not in taken]
            if not people:
                return None
            insider = rng.choice(people)
            insider.leave_day = start + 2
        insider.departure = "terminated"
        instance = Instance(self.code, name, insider, start, start + 1, params)
        instance.members[insider.supervisor or 0] = "masquerade"
        instance.state["grievance"] = max(0, start - int(params["grievance_days"]))
        return instance

    def act(self, instance: Instance, world: World, day: int, buffer: DayBuffer) -> None:
        """Day one: download and plant the keylogger; day two: the mass mail as the supervisor."""
        person = instance.insider
        boss = world.org.people[person.supervisor or 0]
        label = instance.label(person)
        rng = self.rng(world, instance, day)
        if day == instance.state["grievance"]:
            buffer.hr.append({"user_id": person.user_id, "kind": "performance_concern",
                              "ts": world.org.day_date(day).isoformat() + "T15:00:00",
                              "attrs": {"note": "written warning"}})
        if day == instance.start:
            session = self.session(buffer, person)
            at = self.before_midnight(self.during(session, rng) if session else 10 * 3600, 600)
            site = pick_domain("hacking_tools", rng)
            self.web(buffer, person, at, site, "hacking_tools", "WWW Download",
                     "keylogger download free remote access stealth", label, rng)
            buffer.device.append([at + 300, person.user_id, person.pc, "Connect", "R:\\", label])
            buffer.file.append(file_row(at + 360, person, person.pc, None, "R:\\keylogger.exe",
                                        "File Copy", rng, to_media=True, label=label))
            buffer.device.append([at + 600, person.user_id, person.pc, "Disconnect", None,
                                  label])
            visit = self.before_midnight(at + rng.randrange(1800, 7200), 300)
            buffer.logon.append([visit, person.user_id, boss.pc, "Logon", label])
            buffer.device.append([visit + 60, person.user_id, boss.pc, "Connect", "R:\\", label])
            buffer.file.append(file_row(visit + 120, person, boss.pc, None,
                                        "C:\\Windows\\Temp\\keylogger.exe", "File Copy", rng,
                                        from_media=True, label=label))
            buffer.device.append([visit + 240, person.user_id, boss.pc, "Disconnect", None,
                                  label])
            buffer.logon.append([visit + 300, person.user_id, boss.pc, "Logoff", label])
        elif day == instance.start + 1:
            masquerade = instance.label(person, "masquerade")
            at = rng.randrange(20 * 3600, 23 * 3600)
            buffer.logon.append([at, boss.user_id, boss.pc, "Logon", masquerade])
            everyone = [p.email for p in world.org.people if p.employed(day) and p is not boss]
            recipients = sorted(rng.sample(everyone, min(len(everyone),
                                                          int(instance.params["recipients"]))))
            row = email_row(at + 600, boss, recipients,
                            "urgent the company is failing layoffs coming management lies"
                            " leave now", [], rng, label=masquerade)
            buffer.email.append(row)
            buffer.logon.append([at + 900, boss.user_id, boss.pc, "Logoff", masquerade])

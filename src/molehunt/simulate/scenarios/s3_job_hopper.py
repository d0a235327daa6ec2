"""S3 job hopper: arrives with a former employer's secrets, reaches far, leaves with a haul."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import ClassVar

from molehunt.simulate.background import World, email_row, file_row
from molehunt.simulate.buffer import DayBuffer
from molehunt.simulate.documents import Document, document_text
from molehunt.simulate.scenarios.base import Instance, Scenario, documents_by_sensitivity
from molehunt.simulate.vocabulary import FOREIGN_COMPANIES, MARKINGS, TOPICS


class JobHopper(Scenario):
    """Joins carrying documents marked confidential by a former employer (inbound
    contamination), reads other units' documents and sits in their closed-door meetings far
    beyond the role's need, and leaves within one to two years with a last large haul."""

    code = "S3"
    title = "job hopper"
    defaults: ClassVar[Mapping[str, float]] = {
        "tenure": 450.0, "foreign_documents": 6.0, "reach": 3.0, "haul": 80.0, "meetings": 0.5}

    def plan(self, world: World, rng: random.Random, params: dict[str, float],
             taken: set[int], name: str) -> Instance | None:
        """A new joiner (an existing person's hiring is moved into the period)."""
        days = world.org.days
        managers = {p.supervisor for p in world.org.people}
        if world.fixed_tenure:  # a joiner of the directory who also leaves in the period
            people = [p for p in world.org.people if p.index not in taken
                      and p.index not in managers and p.hire_day > 0
                      and p.leave_day is not None and p.leave_day - p.hire_day >= 40]
            if not people:
                return None
            insider = rng.choice(people)
            hire, leave = insider.hire_day, insider.leave_day or 0
        else:
            hire = rng.randrange(max(10, days // 10), max(11, days // 4) + 1)
            leave = min(days - 2, hire + int(params["tenure"]))
            if leave - hire < 40:
                return None
            people = [p for p in world.org.people if p.index not in taken
                      and p.index not in managers
                      and p.profile in {"engineer", "sales", "staff"} and p.leave_day is None]
            if not people:
                return None
            insider = rng.choice(people)
            insider.hire_day, insider.leave_day = hire, leave
        insider.departure = "resign"
        instance = Instance(self.code, name, insider, hire, leave - 1, params)
        company, company_zh = rng.choice(FOREIGN_COMPANIES)
        foreign = []
        for number in range(int(params["foreign_documents"])):
            topic = rng.choice(sorted(TOPICS))
            language = "zh" if rng.random() < 0.4 else "en"
            owner = company_zh if language == "zh" else company
            title = f"{owner} {topic} {number + 1}"
            sensitivity = rng.choice((2, 3, 4))
            foreign.append(Document(
                doc_id="", path=f"R:\\old_job\\{topic}_{number + 1}.docx", title=title,
                project="", owner=insider.index, team="", department="", business_unit="",
                sensitivity=sensitivity,
                marking=f"{owner} {MARKINGS[sensitivity][1 if language == 'zh' else 0]}",
                language=language, created=hire,
                text=document_text(rng, title, sensitivity, topic, language, owner),
                size=rng.randrange(30_000, 400_000)))
        instance.state.update(foreign=foreign, company=company,
                              haul_from=max(hire + 20, leave - 12))
        instance.details = f"brings documents of {company}"
        return instance

    def act(self, instance: Instance, world: World, day: int, buffer: DayBuffer) -> None:
        """Arrival with foreign documents, wide reading, closed doors, the last haul."""
        today = self.working_day(instance, world, day, buffer)
        if today is None:
            return
        session, rng, label = today
        person = instance.insider
        foreign: list[Document] = instance.state["foreign"]
        if foreign and not instance.state.get("arrived"):
            instance.state["arrived"] = day
            at = self.before_midnight(self.during(session, rng),
                                      max(600 + len(foreign), 60 + 20 * len(foreign)))
            buffer.device.append([at, person.user_id, person.pc, "Connect", "R:\\;R:\\old_job",
                                  label])
            for number, document in enumerate(foreign):
                if number % 3 == 2:
                    buffer.email.append(email_row(
                        at + 600 + number, person, [person.email],
                        " ".join(document.text[:900].split()),
                        [document], rng, activity="View", sender=person.personal_email,
                        label=label))
                else:
                    buffer.file.append(file_row(
                        at + 60 + number * 20, person, person.pc, None,
                        "C:\\Users\\" + person.user_id + "\\Documents\\"
                        + document.path.rsplit("\\", 1)[1], "File Copy", rng, from_media=True,
                        content=" ".join(document.text[:900].split()), label=label))
            buffer.device.append([at + 400, person.user_id, person.pc, "Disconnect", None,
                                  label])
        wide = [d for d in documents_by_sensitivity(world, person, 2, 4, day, wide=True)
                if d.department != person.department]
        if wide:
            for _ in range(rng.randrange(0, 2 * int(instance.params["reach"]) + 1)):
                document = rng.choice(wide)
                buffer.file.append(file_row(self.during(session, rng), person, person.pc,
                                            document, document.path, "File Open", rng,
                                            label=label))
        for meeting in world.meetings.get(day, []):
            if (meeting["closed_door"] and meeting["department"] != person.department
                    and rng.random() < instance.params["meetings"] / 4):
                buffer.other.append([meeting["start"], person.user_id, {
                    **meeting["record"], "user_id": person.user_id}, label])
        if day >= instance.state["haul_from"] and rng.random() < 0.7:
            haul = [d for d in documents_by_sensitivity(world, person, 2, 4, day, wide=True)]
            at = self.during(session, rng)
            buffer.device.append([at, person.user_id, person.pc, "Connect", "R:\\", label])
            for _ in range(max(1, int(instance.params["haul"]) // 8)):
                document = rng.choice(haul)
                buffer.file.append(file_row(min(86000, at + rng.randrange(30, 2400)), person,
                                            person.pc, document,
                                            "R:\\" + document.path.rsplit("\\", 1)[1],
                                            "File Copy", rng, to_media=True, label=label))
            buffer.device.append([min(86399, at + 2500), person.user_id, person.pc,
                                  "Disconnect", None, label])

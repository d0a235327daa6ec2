"""S1 paid consultant: low and slow, for years, climbing in sensitivity.

Nothing is added to the insider's days: after an approach during a business trip, some of the
e-mail, reading and browsing they would have done anyway is *replaced* — a partner becomes an
expert-network contact, a message body becomes an excerpt of an internal document, a page
becomes an intermediary's site, a document read becomes a more sensitive one. Every daily count
and byte total stays what it would have been; only the accumulation and the drift in
sensitivity give it away.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import ClassVar

from molehunt.simulate.background import World, domains_of, excerpt, url_for
from molehunt.simulate.buffer import (
    EMAIL_ACTIVITY,
    EMAIL_ATTACHMENTS,
    EMAIL_CONTENT,
    EMAIL_DOCS,
    EMAIL_LABEL,
    EMAIL_TO,
    FILE_ACTIVITY,
    FILE_CONTENT,
    FILE_DOC,
    FILE_LABEL,
    FILE_PATH,
    HTTP_CONTENT,
    HTTP_DOMAIN,
    HTTP_LABEL,
    HTTP_URL,
    USER,
    DayBuffer,
)
from molehunt.simulate.scenarios.base import (
    Instance,
    Scenario,
    documents_by_sensitivity,
    employed_through,
)


class PaidConsultant(Scenario):
    """After an approach around business travel: regular contact with expert networks and
    personal addresses, many small excerpts that climb from internal to core technology."""

    code = "S1"
    title = "paid consultant (low and slow)"
    defaults: ClassVar[Mapping[str, float]] = {"duration": 730.0, "contacts": 0.25, "reads": 0.3}

    def plan(self, world: World, rng: random.Random, params: dict[str, float],
             taken: set[int], name: str) -> Instance | None:
        """Someone with a habit of external mail, approached on a trip early in the period."""
        days = world.org.days
        low = max(40, days // 8)
        high = max(low, days // 3)
        start = rng.randrange(low, high + 1)
        end = min(days - 1, start + int(params["duration"]) - 1)
        if end - start < 30:
            return None
        people = [p for p in world.org.people if p.index not in taken
                  and p.habits.email_external >= 1.0 and p.habits.webmail > 0.05
                  and employed_through(p, start - 40, end)]
        if not people:
            return None
        # the approach happens on a trip the person makes anyway, if they make one in time
        trips = {p.index: sorted(d for d in world.travel.get(p.index, ())
                                 if low - 30 <= d <= high - 7) for p in people}
        travellers = [p for p in people if trips[p.index]]
        insider = rng.choice(travellers or people)
        if travellers:
            trip = rng.choice(trips[insider.index])
            start = trip + rng.randrange(5, 15)
            end = min(days - 1, start + int(params["duration"]) - 1)
        else:
            trip = start - rng.randrange(7, 21)
            world.travel.setdefault(insider.index, set()).update(range(trip, trip + 4))
        instance = Instance(self.code, name, insider, start, end, params)
        instance.details = f"approached on a trip on day {trip}"
        instance.state["trip"] = trip
        experts = domains_of("expert_network")
        instance.state["contacts"] = [
            f"{rng.choice('jmkl')}.{rng.choice(('wong', 'reed', 'patel'))}@{rng.choice(experts)}"
            for _ in range(3)]
        instance.state["sites"] = rng.sample(experts, 2)
        return instance

    def act(self, instance: Instance, world: World, day: int, buffer: DayBuffer) -> None:
        """Replace a few of today's own messages, reads and visits; add nothing."""
        person = instance.insider
        if not instance.start <= day <= instance.end:
            return
        rng = self.rng(world, instance, day)
        label = instance.label(person)
        progress = (day - instance.start) / max(1, instance.end - instance.start)
        level = min(4, max(1, round(1 + 3 * progress + rng.gauss(0, 0.5))))
        pool = (documents_by_sensitivity(world, person, level, level, day, wide=level >= 3)
                or documents_by_sensitivity(world, person, 1, level, day))
        mails = [r for r in buffer.email_by_person.get(person.index, [])
                 if r[EMAIL_ACTIVITY] == "Send" and r[EMAIL_LABEL] is None]
        outside = [r for r in mails if not r[EMAIL_TO][0].endswith("@" + world.org.domain)]
        if outside and pool and rng.random() < instance.params["contacts"]:
            row = rng.choice(outside)
            document = rng.choice(pool)
            is_webmail = row[EMAIL_TO][0] in world.state(person).friends
            if not is_webmail:
                row[EMAIL_TO] = [rng.choice(instance.state["contacts"])]
            row[EMAIL_CONTENT] = excerpt(document, rng, rng.randrange(250, 700))
            if row[EMAIL_ATTACHMENTS]:
                # the same number of attachments, and the same size on the wire
                row[EMAIL_ATTACHMENTS] = [(document.path, row[EMAIL_ATTACHMENTS][0][1])]
                row[EMAIL_DOCS] = [document]
            row[EMAIL_LABEL] = label
        opens = [r for r in buffer.file_by_person.get(person.index, [])
                 if r[FILE_ACTIVITY] == "File Open" and r[FILE_LABEL] is None]
        if opens and pool and rng.random() < instance.params["reads"]:
            row = rng.choice(opens)
            document = rng.choice(pool)
            row[FILE_PATH], row[FILE_DOC] = document.path, document
            row[FILE_CONTENT] = " ".join(document.text[:160].split())
            row[FILE_LABEL] = label
        if rng.random() < instance.params["contacts"] / 2:
            visits = [r for r in buffer.http if r[USER] == person.user_id
                      and r[HTTP_DOMAIN][1] == "general" and r[HTTP_LABEL] is None]
            if visits:
                row = rng.choice(visits)
                site = rng.choice(instance.state["sites"])
                row[HTTP_URL] = url_for(site, "expert_network", rng)
                row[HTTP_DOMAIN] = (site, "expert_network")
                row[HTTP_CONTENT] = world.web_text("expert_network", rng)
                row[HTTP_LABEL] = label

"""Organisation styles: whole-company cultures that shift everybody's background habits.

Detectors fitted to one background generator learn that generator. A style bends the habits
every person draws (:func:`molehunt.simulate.organisation.build_organisation`), so detection can
be developed on some styles and judged on others (DESIGN.md §6b). Styles change the benign
population only: insider scenarios act exactly as they do under any other style.

Shares are probabilities per person, multipliers scale a role's mean (``1.0``: as in
``baseline``). ``baseline`` is the simulator as it always was, byte for byte.

>>> sorted(STYLES)
['baseline', 'consultancy', 'night_shift', 'startup']
>>> resolve_style("consultancy", seed=7).travel
2.5
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from molehunt.errors import ConfigError


def _frozen(**values: float) -> Mapping[str, float]:
    return MappingProxyType(dict(values))


@dataclass(frozen=True)
class OrganisationStyle:
    """How one kind of company works: shares and multipliers over the role profiles."""

    name: str
    #: what kind of real company the style stands for (one line, for docs and listings)
    stands_for: str
    # -- working hours
    #: share of people who habitually start late and stay late
    late_share: float = 0.08
    #: per behaviour profile, share of its people on shift work (half evening, half night
    #: shifts by default); profiles not named here work days
    shift_share: Mapping[str, float] = field(default_factory=_frozen)
    #: among shift workers, share on night shifts (the rest work evening shifts)
    night_shift_share: float = 0.5
    #: hours added to everybody's usual start of the day and to its usual length
    start_later: float = 0.0
    longer_days: float = 0.0
    after_hours: float = 1.0
    weekend: float = 1.0
    # -- web and mail
    http: float = 1.0
    #: per web category, multiplier of the share of visits (categories not named: 1.0)
    web_mix: Mapping[str, float] = field(default_factory=_frozen)
    #: share of people who browse job boards at all
    job_board_share: float = 0.5
    #: share of people who read expert networks as part of their work (a look-alike of S1/S4)
    expert_reader_share: float = 0.0
    #: share of people who upload to cloud storage at all, and a multiplier of their rate
    cloud_share: float = 0.5
    cloud_uploads: float = 1.0
    email_internal: float = 1.0
    email_external: float = 1.0
    webmail: float = 1.0
    #: profiles whose heavy external mail is their job (marked ``heavy_external_email``)
    client_facing: frozenset[str] = frozenset({"sales"})
    # -- devices and machines
    media_share: float = 1.0
    media_days: float = 1.0
    #: per behaviour profile, share of its people who work at shared machines (line or lab
    #: stations) on most days
    shared_machine_share: Mapping[str, float] = field(default_factory=_frozen)
    #: shared machines per 100 people besides the usual few
    shared_machines_per_100: float = 0.0
    other_machines: float = 1.0
    #: share of people (of roles that rarely do) who now and then log on to a colleague's machine
    other_machines_share: float = 0.3
    # -- travel
    travel: float = 1.0
    #: share of people who travel three times as often as their role does
    road_warrior_share: float = 0.0
    #: share of trips to another time zone (work then happens at odd hours of company time)
    time_zone_trips: float = 0.0
    # -- structure
    team_size: int = 9
    #: reading weight of other departments' documents up to confidential (0: only public and
    #: internal ones, rarely)
    cross_reading: float = 0.0


BASELINE = OrganisationStyle(
    name="baseline",
    stands_for="a mid-sized engineering manufacturer with office hours: the simulator as it"
               " always was",
)
"""An engineering company with day-time office work, a few late workers, IT staff who use
removable media, sales staff who mail customers and a few business trips a year."""

NIGHT_SHIFT = OrganisationStyle(
    name="night_shift",
    stands_for="a factory running round the clock: shift work, shared line machines, USB sticks"
               " everywhere, little web",
    shift_share=_frozen(engineer=0.4, staff=0.35, it_admin=0.4, security=0.5, manager=0.1),
    weekend=1.5,
    http=0.45,
    web_mix=_frozen(social=0.6, news=0.8, cloud_storage=0.4),
    cloud_share=0.25,
    cloud_uploads=0.5,
    email_internal=0.8,
    email_external=0.6,
    webmail=0.8,
    media_share=4.0,
    media_days=4.0,
    shared_machine_share=_frozen(engineer=0.35, staff=0.3, it_admin=0.2, security=0.2),
    shared_machines_per_100=5.0,
    travel=0.5,
)
"""A plant that runs day and night (battery cells, semiconductors, food): many people work
evening or night shifts and weekend rotations, production staff share line and lab machines,
field and line engineers carry USB sticks daily, and nobody has much time for the web."""

CONSULTANCY = OrganisationStyle(
    name="consultancy",
    stands_for="an open, client-facing firm: heavy external mail and web, constant travel across"
               " time zones, cloud everywhere",
    late_share=0.1,
    after_hours=1.3,
    http=1.35,
    web_mix=_frozen(news=1.5, cloud_storage=2.5, job_board=2.0, expert_network=3.0),
    job_board_share=0.8,
    expert_reader_share=0.35,
    cloud_share=0.85,
    cloud_uploads=3.0,
    email_internal=1.1,
    email_external=2.5,
    webmail=1.2,
    client_facing=frozenset({"sales", "engineer", "manager", "executive"}),
    media_share=0.8,
    travel=2.5,
    road_warrior_share=0.25,
    time_zone_trips=0.5,
    cross_reading=0.1,
)
"""A consulting or professional-services firm: everybody mails clients and partners, reads
the news and expert networks, shares files through cloud storage, browses job boards (people
move on often) and travels, many of them across time zones, so they log on at odd hours."""

STARTUP = OrganisationStyle(
    name="startup",
    stands_for="a young product company: small teams, everybody on everything, late hours,"
               " cloud everywhere, little removable media",
    late_share=0.2,
    start_later=0.9,
    longer_days=0.6,
    after_hours=2.2,
    weekend=2.0,
    http=1.2,
    web_mix=_frozen(social=1.3, cloud_storage=3.0, job_board=1.5),
    job_board_share=0.65,
    cloud_share=0.9,
    cloud_uploads=3.0,
    email_internal=0.7,
    webmail=1.3,
    media_share=0.5,
    media_days=0.5,
    other_machines=1.5,
    other_machines_share=0.5,
    team_size=5,
    cross_reading=0.4,
)
"""A start-up: small teams whose people read every project's documents, work late and on
weekends, chat more than they mail, keep everything in the cloud and hardly ever plug in a
USB stick."""

#: Every style by name, ``baseline`` first.
STYLES: Mapping[str, OrganisationStyle] = MappingProxyType(
    {style.name: style for style in (BASELINE, NIGHT_SHIFT, CONSULTANCY, STARTUP)})


def resolve_style(name: str, seed: int) -> OrganisationStyle:
    """The style called ``name``; ``"auto"`` draws one of :data:`STYLES` from the seed.

    The draw depends on the seed and on the list of styles only (adding a style may change
    which one a seed draws).

    >>> resolve_style("auto", 3) == resolve_style("auto", 3)
    True
    >>> resolve_style("factory", 3)
    Traceback (most recent call last):
    ...
    molehunt.errors.ConfigError: unknown organisation style 'factory'; known: baseline, \
night_shift, consultancy, startup, auto
    """
    if name == "auto":
        names = list(STYLES)
        # one random() whatever the number of styles (DESIGN.md §9)
        return STYLES[names[int(random.Random(f"style/{seed}").random() * len(names))]]
    style = STYLES.get(name)
    if style is None:
        raise ConfigError(f"unknown organisation style {name!r}; known:"
                          f" {', '.join(STYLES)}, auto")
    return style

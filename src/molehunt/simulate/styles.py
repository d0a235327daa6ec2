"""Organisation styles: whole-company cultures that shift everybody's background habits.

Detectors fitted to one background generator learn that generator. A style bends the habits
every person draws (:func:`molehunt.simulate.organisation.build_organisation`), so detection can
be developed on some styles and judged on others (DESIGN.md §6b). Styles change the benign
population only: insider scenarios act exactly as they do under any other style.

Shares are probabilities per person, multipliers scale a role's mean (``1.0``: as in
``baseline``). ``baseline`` is the simulator as it always was, byte for byte.

Besides the named :data:`STYLES`, ``random`` draws every knob of a style from the seed
(:func:`draw_random_style`, within :data:`RANDOM_BOUNDS`): an organisation nobody developed
on, different for every seed.

>>> sorted(STYLES)
['baseline', 'consultancy', 'night_shift', 'startup']
>>> resolve_style("consultancy", seed=7).travel
2.5
>>> resolve_style("random", seed=7) == resolve_style("random", seed=7)
True
"""

from __future__ import annotations

import dataclasses
import math
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


#: Every name ``--style`` accepts: the named styles, then the two drawn from the seed.
STYLE_NAMES: tuple[str, ...] = (*STYLES, "random", "auto")

#: Behaviour profiles whose people run operations (lines, labs, data centres, the security
#: desk): where shift work and shared stations concentrate in real companies.
_OPERATIONS = ("engineer", "staff", "it_admin", "security")
#: Profiles of office roles: some shift work or shared desks, far less.
_OFFICE = ("manager", "sales", "executive")


@dataclass(frozen=True)
class KnobBounds:
    """Where the ``random`` style draws one number: uniformly between ``low`` and ``high``,
    or log-uniformly (``log``: a multiplier, so ×0.5 is as likely as ×2)."""

    low: float
    high: float
    log: bool = False

    def draw(self, rng: random.Random) -> float:
        """One value from a single ``random()`` of ``rng``, rounded to three decimals.

        >>> KnobBounds(0.2, 5.0, log=True).draw(random.Random(1))
        0.308
        """
        fraction = rng.random()
        if self.log:
            value = math.exp(math.log(self.low)
                             + fraction * (math.log(self.high) - math.log(self.low)))
        else:
            value = self.low + fraction * (self.high - self.low)
        # the rounded bounds are themselves representable: rounding never leaves them
        return min(self.high, max(self.low, round(value, 3)))


#: Company-wide levels the ``random`` style draws first: how much shift work there is and how
#: much work at shared stations. A profile's share is the level times the profile's weight,
#: so that a company with shifts has them mostly in operations, as real ones do.
_SHIFT_WORK = KnobBounds(0.0, 0.45)
_SHIFT_WEIGHTS: Mapping[str, KnobBounds] = MappingProxyType({
    **{profile: KnobBounds(0.6, 1.2) for profile in _OPERATIONS},
    **{profile: KnobBounds(0.0, 0.3) for profile in _OFFICE}})
_SHARED_MACHINE_WORK = KnobBounds(0.0, 0.4)
_SHARED_MACHINE_WEIGHTS: Mapping[str, KnobBounds] = MappingProxyType({
    "engineer": KnobBounds(0.6, 1.1), "staff": KnobBounds(0.6, 1.1),
    "it_admin": KnobBounds(0.3, 0.8), "security": KnobBounds(0.3, 0.8),
    **{profile: KnobBounds(0.0, 0.2) for profile in _OFFICE}})
#: Chance that a profile other than sales is client-facing (sales always is).
CLIENT_FACING_CHANCE = 0.3
_MAYBE_CLIENT_FACING = ("engineer", "it_admin", "security", "manager", "executive", "staff")


def _product(level: KnobBounds, weight: KnobBounds) -> KnobBounds:
    return KnobBounds(round(level.low * weight.low, 3), round(level.high * weight.high, 3))


#: Where ``random`` draws each number knob of :class:`OrganisationStyle`: keys are its field
#: names, and ``<field>.<key>`` for the entries of ``shift_share`` and
#: ``shared_machine_share`` (per profile) and ``web_mix`` (per web category; ``general`` is
#: the reference the others are relative to). ``client_facing`` is sales plus each other
#: profile with chance :data:`CLIENT_FACING_CHANCE`. The bounds are wider than the spread of
#: the named styles wherever a real company could plausibly be: off-hours logons from about
#: 5 % to 45 % of all logons, removable media used by about 5 % to 60 % of people.
RANDOM_BOUNDS: Mapping[str, KnobBounds] = MappingProxyType({
    # -- working hours
    "late_share": KnobBounds(0.01, 0.3),
    **{f"shift_share.{profile}": _product(_SHIFT_WORK, weight)
       for profile, weight in _SHIFT_WEIGHTS.items()},
    "night_shift_share": KnobBounds(0.2, 0.8),
    # an earlier start is a factory's 7 o'clock, a later one a start-up's 10 o'clock
    "start_later": KnobBounds(-0.4, 1.0),
    "longer_days": KnobBounds(-0.5, 1.0),
    "after_hours": KnobBounds(0.2, 2.5, log=True),
    "weekend": KnobBounds(0.2, 2.5, log=True),
    # -- web and mail
    "http": KnobBounds(0.4, 1.8, log=True),
    **{f"web_mix.{category}": KnobBounds(0.4, 3.0, log=True)
       for category in ("news", "social", "webmail", "cloud_storage", "job_board",
                        "expert_network")},
    # what security staff and developers browse anyway: a narrower band
    **{f"web_mix.{category}": KnobBounds(0.5, 2.0, log=True)
       for category in ("hacking_tools", "paste_leak")},
    "job_board_share": KnobBounds(0.15, 0.85),
    "expert_reader_share": KnobBounds(0.0, 0.4),
    "cloud_share": KnobBounds(0.1, 0.95),
    "cloud_uploads": KnobBounds(0.3, 4.0, log=True),
    "email_internal": KnobBounds(0.5, 1.6, log=True),
    "email_external": KnobBounds(0.4, 3.0, log=True),
    "webmail": KnobBounds(0.5, 2.0, log=True),
    # -- devices and machines
    "media_share": KnobBounds(0.3, 5.0, log=True),
    "media_days": KnobBounds(0.3, 5.0, log=True),
    **{f"shared_machine_share.{profile}": _product(_SHARED_MACHINE_WORK, weight)
       for profile, weight in _SHARED_MACHINE_WEIGHTS.items()},
    "shared_machines_per_100": KnobBounds(0.0, 8.0),
    "other_machines": KnobBounds(0.5, 2.5, log=True),
    "other_machines_share": KnobBounds(0.1, 0.7),
    # -- travel
    "travel": KnobBounds(0.3, 3.5, log=True),
    "road_warrior_share": KnobBounds(0.0, 0.3),
    "time_zone_trips": KnobBounds(0.0, 0.7),
    # -- structure
    "team_size": KnobBounds(4, 14),
    "cross_reading": KnobBounds(0.0, 0.5),
})


def draw_random_style(seed: int) -> OrganisationStyle:
    """The ``random`` style of ``seed``: every knob drawn independently within
    :data:`RANDOM_BOUNDS`.

    Each number comes from a stream of its own (``style-random/<seed>/<knob>``), so the draw
    shifts none of the simulator's other streams, and adding a knob changes no other knob's
    value.

    >>> style = draw_random_style(5)
    >>> style.name, style == draw_random_style(5), style == draw_random_style(6)
    ('random', True, False)
    >>> 4 <= style.team_size <= 14 and "sales" in style.client_facing
    True
    """
    def stream(knob: str) -> random.Random:
        return random.Random(f"style-random/{seed}/{knob}")

    def draw(knob: str) -> float:
        return RANDOM_BOUNDS[knob].draw(stream(knob))

    def per_profile(field_name: str, level: KnobBounds,
                    weights: Mapping[str, KnobBounds]) -> Mapping[str, float]:
        company = level.draw(stream(f"{field_name}.company"))
        return _frozen(**{profile: round(company * weight.draw(stream(f"{field_name}.{profile}")),
                                         3)
                          for profile, weight in weights.items()})

    scalars = {knob: draw(knob) for knob in RANDOM_BOUNDS
               if "." not in knob and knob != "team_size"}
    sizes = RANDOM_BOUNDS["team_size"]
    # one random() per knob, every size in the range equally likely
    team_size = int(sizes.low + stream("team_size").random() * (sizes.high - sizes.low + 1))
    return OrganisationStyle(
        name="random",
        stands_for="an organisation drawn from the seed: every knob independently within"
                   " plausible bounds",
        shift_share=per_profile("shift_share", _SHIFT_WORK, _SHIFT_WEIGHTS),
        web_mix=_frozen(**{knob.partition(".")[2]: draw(knob) for knob in RANDOM_BOUNDS
                           if knob.startswith("web_mix.")}),
        client_facing=frozenset({"sales"} | {
            profile for profile in _MAYBE_CLIENT_FACING
            if stream(f"client_facing.{profile}").random() < CLIENT_FACING_CHANCE}),
        shared_machine_share=per_profile("shared_machine_share", _SHARED_MACHINE_WORK,
                                         _SHARED_MACHINE_WEIGHTS),
        team_size=team_size,
        **scalars,
    )


def style_knobs(style: OrganisationStyle) -> dict[str, object]:
    """Every knob of ``style`` as JSON-ready values (what ``company.json`` records).

    >>> knobs = style_knobs(STYLES["night_shift"])
    >>> knobs["media_share"], knobs["shift_share"]["security"], knobs["client_facing"]
    (4.0, 0.5, ['sales'])
    """
    knobs: dict[str, object] = {}
    for knob in dataclasses.fields(style):
        value = getattr(style, knob.name)
        if knob.name in ("name", "stands_for"):
            continue
        if isinstance(value, frozenset):
            value = sorted(value)
        elif isinstance(value, Mapping):
            value = dict(sorted(value.items()))
        knobs[knob.name] = value
    return knobs


def resolve_style(name: str, seed: int) -> OrganisationStyle:
    """The style called ``name``; ``"auto"`` draws one of :data:`STYLES` from the seed,
    ``"random"`` every knob of a new one (:func:`draw_random_style`).

    The ``auto`` draw depends on the seed and on the list of styles only (adding a style may
    change which one a seed draws).

    >>> resolve_style("auto", 3) == resolve_style("auto", 3)
    True
    >>> resolve_style("factory", 3)
    Traceback (most recent call last):
    ...
    molehunt.errors.ConfigError: unknown organisation style 'factory'; known: baseline, \
night_shift, consultancy, startup, random, auto
    """
    if name == "auto":
        names = list(STYLES)
        # one random() whatever the number of styles (DESIGN.md §9)
        return STYLES[names[int(random.Random(f"style/{seed}").random() * len(names))]]
    if name == "random":
        return draw_random_style(seed)
    style = STYLES.get(name)
    if style is None:
        raise ConfigError(f"unknown organisation style {name!r}; known:"
                          f" {', '.join(STYLE_NAMES)}")
    return style

"""HR context: where the person stands on the day — notice given, trip just made, layoffs.

Every value uses only what HR knew *on that day*: a resignation filed in March does not reach
back into February. So features never change once computed, a daily run equals a full
rebuild, and detectors cannot learn from hindsight. (What happened *before* a notice is for
the sequence detectors and investigations to look back on.)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis

from molehunt.features.catalogue import Family, Feature
from molehunt.features.enrich import attr_number, attr_text


def _derive(inputs: Any) -> Any:
    keys = inputs.context
    hr = inputs.hr_events
    hr = hr.select(h_user=hr.user_id, kind=hr.kind, at=hr.ts.date().epoch_days(),
                   trip_days=attr_number(hr.attrs, "days"),
                   leaves=attr_text(hr.attrs, "leave_date").cast("date").epoch_days(),
                   group=ibis.coalesce(attr_text(hr.attrs, "group"),
                                       attr_text(hr.attrs, "department")))
    today = keys.day.epoch_days()
    rows = keys.mutate(today=today).left_join(
        hr, [keys.user_id == hr.h_user, hr.at <= today])
    day = rows.today
    trip_end = rows.at + rows.trip_days.fill_null(1) - 1
    departure = ibis.cases((rows.kind == "resignation_notice", rows.leaves),
                           (rows.kind == "termination", rows.at), else_=ibis.null("int64"))
    own = rows.group_by(rows.user_id, rows.day).aggregate(
        days_since_hire_1d=day.max() - rows.at.max(where=rows.kind == "hire"),
        days_since_notice_1d=day.max() - rows.at.max(where=rows.kind == "resignation_notice"),
        departure=departure.max(where=departure >= day),
        today=day.max(),
        days_since_travel_1d=day.max() - ibis.least(trip_end, day).max(
            where=rows.kind == "travel"),
        days_since_performance_concern_1d=day.max() - rows.at.max(
            where=rows.kind == "performance_concern"),
        outside_engagement_declared_1d=rows.count(
            where=rows.kind == "outside_engagement_declared"),
    )
    layoffs = hr.filter(hr.kind == "layoff", hr.group.notnull()).group_by(
        l_group=hr.group, l_at=hr.at).aggregate()
    layoffs = layoffs.mutate(l_until=ibis.null("int64"))
    if int(layoffs.count().execute()) == 0:
        # no HR layoff records (a deployment without an HR feed): a wave of leavers in one
        # department, as the directory snapshots show it, stands for one; so does one seen in
        # the logs, where regular workers stop appearing (weeks before the next snapshot)
        layoffs = departure_waves(inputs.directory).mutate(l_until=ibis.null("int64"))
        if inputs.activity is not None:
            a = inputs.activity
            # the days a wave seen then still counts on the days computed now
            since = inputs.start - dt.timedelta(days=ACTIVITY_WAVE_MEMORY_DAYS)
            days = a.filter(a.day >= since).select("day").distinct()
            waves = activity_waves(a, inputs.directory, days)
            layoffs = layoffs.union(waves.mutate(
                l_until=waves.l_at + ACTIVITY_WAVE_MEMORY_DAYS))
    groups = keys.mutate(today=today).join(
        layoffs, [keys.department == layoffs.l_group, layoffs.l_at <= today,
                  layoffs.l_until.isnull() | (layoffs.l_until >= today)])
    groups = groups.group_by(g_user=groups.user_id, g_day=groups.day).aggregate(
        days_since_layoff_in_group_1d=groups.today.max() - groups.l_at.max())
    joined = own.left_join(groups, [own.user_id == groups.g_user, own.day == groups.g_day])
    return joined.select(
        own.user_id, own.day,
        days_since_hire_1d=joined.days_since_hire_1d.cast("int64"),
        days_since_notice_1d=joined.days_since_notice_1d.cast("int64"),
        days_to_departure_1d=(joined.departure - joined.today).cast("int64"),
        days_since_layoff_in_group_1d=joined.days_since_layoff_in_group_1d.cast("int64"),
        days_since_travel_1d=joined.days_since_travel_1d.cast("int64"),
        days_since_performance_concern_1d=joined.days_since_performance_concern_1d.cast(
            "int64"),
        outside_engagement_declared_1d=ibis.cases(
            (joined.outside_engagement_declared_1d > 0, 1), else_=0).cast("int64"),
    )


#: A department loses at least this many people in one snapshot (or two in a row) ...
WAVE_MIN_LEAVERS = 3
#: ... and at least this share of the people it had: a wave, not the usual attrition (about
#: 1 % a month at a typical 14 % a year).
WAVE_MIN_SHARE = 0.1


def departure_waves(directory: Any) -> Any:
    """Departure waves (``l_group`` department, ``l_at`` epoch day) from the directory alone.

    A person has left when their last directory row ends (``valid_to``, the first snapshot
    without them); a department whose leavers at one snapshot, or at it and the snapshot
    before, are at least :data:`WAVE_MIN_LEAVERS` and :data:`WAVE_MIN_SHARE` of its people
    then had a wave (the last days of one layoff are often spread over weeks, across a
    snapshot). The day is the snapshot's, when the directory first shows it: nothing is known
    earlier.
    """
    d = directory
    last = d.group_by(w_user=d.user_id).aggregate(
        left=d.valid_to.max(), open_rows=d.valid_to.isnull().cast("int64").sum(),
        department=d.department.argmax(d.valid_from))
    leavers = last.filter((last.open_rows == 0) & last.left.notnull()
                          & last.department.notnull())
    counts = leavers.group_by(c_group=leavers.department, c_at=leavers.left).aggregate(
        n=leavers.count())
    dates = d.select(s_at=d.valid_from).union(
        d.filter(d.valid_to.notnull()).select(s_at=d.valid_to)).distinct()
    dates = dates.mutate(s_prev=dates.s_at.lag().over(ibis.window(order_by=dates.s_at)))
    counts = counts.join(dates, counts.c_at == dates.s_at)
    before = counts.select(p_group=counts.c_group, p_at=counts.c_at, p_n=counts.n)
    counts = counts.left_join(before, [counts.c_group == before.p_group,
                                       counts.s_prev == before.p_at])
    counts = counts.select(counts.c_group, counts.c_at, counts.n,
                           c_from=ibis.coalesce(counts.p_at, counts.c_at),
                           n_pair=counts.n + counts.p_n.fill_null(0))
    rows = d.filter(d.department.notnull()).select(
        r_user=d.user_id, r_group=d.department, r_from=d.valid_from, r_to=d.valid_to)
    staff = counts.join(rows, counts.c_group == rows.r_group)
    staff = staff.filter((staff.r_from < staff.c_at)
                         & (staff.r_to.isnull() | (staff.r_to >= staff.c_from)))
    sizes = staff.group_by(s_group=staff.c_group, s_at=staff.c_at).aggregate(
        people=staff.r_user.nunique())
    waves = counts.join(sizes, [counts.c_group == sizes.s_group, counts.c_at == sizes.s_at])
    single = (waves.n >= WAVE_MIN_LEAVERS) & (waves.n >= WAVE_MIN_SHARE * waves.people)
    pair = (waves.n_pair >= WAVE_MIN_LEAVERS) & (waves.n_pair >= WAVE_MIN_SHARE * waves.people)
    waves = waves.filter(single | pair)
    return waves.select(l_group=waves.c_group, l_at=waves.c_at.cast("date").epoch_days())


#: Waves from activity: a person with at least :data:`REGULAR_DAYS` active days in the 30
#: days up to their last active day ...
REGULAR_DAYS = 12
#: ... who has not appeared for this many calendar days (a weekend and a day off are not
#: leaving) ...
ABSENT_DAYS = 7
#: ... counts as gone for this many days after their last active day (longer absences are
#: attrition or a long leave, not the same wave) ...
GONE_SPAN_DAYS = 21
#: ... and a department whose gone people are at least :data:`WAVE_MIN_LEAVERS` and this
#: share of its people had a wave. Higher than the directory's share: an absence is not yet a
#: departure (holidays), so only a wave that visibly thins the department counts.
ACTIVITY_WAVE_SHARE = 0.15
#: Days a wave seen in the logs counts as a layoff in the department (HR's and the
#: directory's count for good): bounded, so a daily run needs only this many days of waves,
#: found from :data:`~molehunt.features.build.ACTIVITY_LOOKBACK_DAYS` of activity, to equal
#: a rebuild.
ACTIVITY_WAVE_MEMORY_DAYS = 90


def activity_waves(activity: Any, directory: Any, days: Any) -> Any:
    """Departure waves (``l_group``, ``l_at`` epoch day) as the logs show them, on ``days``.

    A real layoff shows in the logs the day the accounts stop, weeks before the next
    directory snapshot lists the leavers: on each day of ``days`` (a table with ``day``), the
    people gone then (see :data:`REGULAR_DAYS`, :data:`ABSENT_DAYS`, :data:`GONE_SPAN_DAYS`) are
    counted per department (their directory row on their last day) against the department's
    people :data:`GONE_SPAN_DAYS` earlier. Only activity up to the day counts: a person who
    comes back later was gone as far as that day could tell, so a daily run equals a rebuild.
    """
    a = activity.select(a_user=activity.user_id, a_at=activity.day.epoch_days())
    person = ibis.window(group_by=a.a_user, order_by=a.a_at)
    month = ibis.window(group_by=a.a_user, order_by=a.a_at, range=(-29, 0))
    a = a.mutate(a_next=a.a_at.lead().over(person), a_month=a.a_at.count().over(month))
    last = a.filter((a.a_next.isnull() | (a.a_next - a.a_at > ABSENT_DAYS))
                    & (a.a_month >= REGULAR_DAYS))
    d = directory.filter(directory.department.notnull())
    d = d.select(r_user=d.user_id, r_group=d.department,
                 r_from=d.valid_from.cast("date").epoch_days(),
                 r_to=d.valid_to.cast("date").epoch_days())
    last = last.join(d, [last.a_user == d.r_user, d.r_from <= last.a_at,
                         d.r_to.isnull() | (d.r_to > last.a_at)])
    calendar = days.select(c_at=days.day.epoch_days())
    gone = last.join(calendar, [calendar.c_at >= last.a_at + ABSENT_DAYS,
                                calendar.c_at <= last.a_at + GONE_SPAN_DAYS,
                                last.a_next.isnull() | (last.a_next > calendar.c_at)])
    counts = gone.group_by(g_group=gone.r_group, g_at=gone.c_at).aggregate(
        n=gone.a_user.nunique())
    staff = counts.join(d, [counts.g_group == d.r_group,
                            d.r_from <= counts.g_at - GONE_SPAN_DAYS,
                            d.r_to.isnull() | (d.r_to > counts.g_at - GONE_SPAN_DAYS)])
    sizes = staff.group_by(s_group=staff.g_group, s_at=staff.g_at).aggregate(
        people=staff.r_user.nunique())
    waves = counts.join(sizes, [counts.g_group == sizes.s_group, counts.g_at == sizes.s_at])
    waves = waves.filter((waves.n >= WAVE_MIN_LEAVERS)
                         & (waves.n >= ACTIVITY_WAVE_SHARE * waves.people))
    return waves.select(l_group=waves.g_group, l_at=waves.g_at.cast("int64"))


FAMILY = Family(
    name="hr",
    title="HR context",
    order=100,
    features=(
        # hire records are in no observation of their own: null already where HR has none
        Feature("days_since_hire_1d", "hr", "days",
                "Days since the person's hire (HR hire event); null when HR has none.",
                weekly="last"),
        Feature("days_since_notice_1d", "hr", "days",
                "Days since the person gave notice of resignation; null before any notice.",
                weekly="last", observes=("hr_departure",)),
        Feature("days_to_departure_1d", "hr", "days",
                "Days left until the known leaving date (from a notice or a termination); "
                "null while no departure is known.", weekly="min",
                observes=("hr_departure",)),
        Feature("days_since_layoff_in_group_1d", "hr", "days",
                "Days since the last layoff in the person's department; null if none. Without"
                " HR layoff records, a wave of leavers in the department as the directory"
                " snapshots show it (at least 3 people and 10 % of it at one snapshot) or as"
                " the logs show it (at least 3 people and 15 % of it, regular workers not"
                " seen for a week; such a wave counts for 90 days).",
                weekly="last", observes=("directory",)),
        Feature("days_since_travel_1d", "hr", "days",
                "Days since the person's last business trip ended (0 while travelling); "
                "null if they never travelled.", weekly="min", observes=("hr_travel",)),
        Feature("days_since_performance_concern_1d", "hr", "days",
                "Days since HR last recorded a performance concern; null if never.",
                weekly="last", observes=("hr_performance",)),
        Feature("outside_engagement_declared_1d", "hr", "flag",
                "1 once the person has declared an outside engagement (consulting, board "
                "seat, expert-network profile).", weekly="max",
                observes=("hr_declarations",)),
    ),
    derive=_derive,
)

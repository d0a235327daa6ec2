"""C1 after-hours leaker: off-hours logons, first-time removable media, an upload to a leak site."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import ibis

from molehunt.detectors.base import (
    Detector,
    Window,
    findings,
    noisy_or,
    number_text,
    reason,
    saturate,
    with_evidence,
)


@dataclass(kw_only=True)
class AfterHoursLeaker(Detector):
    """Off-hours work that is new for the person, combined with new removable media or leaks.

    Scenario: someone starts logging on at night, connects removable media for the first time
    (or after never using it), copies files and uploads to a paste or leak site, then leaves.

    Signals: off-hours logons when the person's after-hours activity is far above their own
    usual (``events_after_hours_z_self_90d``), or when in that session files went to a drive
    new to the person, something went out to a leak site new to them, or a drive new to them
    was connected while a leak site new to them was visited (a late worker's night is
    unusual by what was done in it); removable media that is new to the person
    (``device_first_use_1d``, or off-hours connections by someone with no use in the months
    before the last ``episode_rows`` active days);
    uploads to paste and leak sites (where only visits are seen: visits to such sites when
    they are new to the person, or once the person first visited a leak site in the last
    ``episode_rows`` active days, so a daily paste-site reader's first visit to a leak site
    still counts). One signal alone
    scores low; two or three on one day
    score high (new media counts toward two only when files were copied to it or it is the
    person's first drive ever, whose copies a partial file log may miss, and toward the night
    only when it was connected off hours).

    False positives: travellers (nights while travelling are not counted), late workers (their
    own baseline already includes late hours), IT staff
    with daily removable media (their usual is not zero), a one-off late deadline. A single
    paste-site upload by a developer scores low unless the other signals join it. A new
    device plugged in on a late night with nothing copied to it (a traveller charging a
    phone, a new keyboard) counts as one weak signal, not as the night's second, unless it is
    the first drive the person ever used and the night is unusual for them on its own (its
    cost: a traveller's first phone charge on an unusual night where no travel calendar is
    seen); nor does a first device used by day on a day that also had an evening session. Nor does a
    "first" device in a person's first ``min_history_days`` observed days: for a new joiner,
    or a log source connected last month, every device is new.
    """

    name: ClassVar[str] = "after_hours_leaker"
    version: ClassVar[int] = 12
    kind: ClassVar[str] = "rule"
    lookback_days: ClassVar[int] = 150
    observes: ClassVar[frozenset[str]] = frozenset({
        "logon", "removable_connect", "removable_files", "web_direction"})
    fallbacks: ClassVar[Mapping[str, str]] = {
        "removable_files": "a drive new to the person connected off hours (or with a leak)",
        "web_direction": "visits to paste or leak sites new to the person",
        "removable_connect": "off-hours logons and leak-site visits alone",
    }
    requires: ClassVar[frozenset[str]] = frozenset({
        "user_day", "logons_off_hours_1d", "events_after_hours_z_self_90d",
        "device_first_use_1d", "device_connects_1d", "device_connects_median_self_90d",
        "device_connects_off_hours_1d", "days_observed_1d", "days_since_travel_1d",
        "leak_sites_first_seen_1d",
        "files_to_removable_1d", "uploads_paste_leak_1d", "visits_paste_leak_1d",
        "events_out_off_hours_1d", "events_after_hours_1d"})

    #: A day's after-hours activity must be this many robust SDs above the person's usual.
    min_after_hours_z: float = 3.0
    #: Score when only one of the three signals is present (scaled by its strength).
    single_signal_factor: float = 0.2
    #: Active days an episode may last: removable use within them does not make it old.
    episode_rows: int = 20
    #: Active days looked back on for older removable-media use.
    history_rows: int = 150
    #: Days a person must have been observed before a device new to them counts toward the
    #: conjunction (before that, "never used removable media" is not yet known).
    min_history_days: int = 60
    #: Working hours (UTC) for choosing which logons are evidence.
    workday_start: int = 7
    workday_end: int = 19

    @classmethod
    def example_params(cls) -> list[dict[str, Any]]:
        """Default and a stricter after-hours threshold."""
        return [{}, {"min_after_hours_z": 5.0, "single_signal_factor": 0.2}]

    def score(self, window: Window) -> ibis.Table:
        """Findings on days with at least one of the signals."""
        u = window.user_day
        # a column the deployment cannot see is null (e.g. no removable-media log): here it
        # gives no signal, and must not turn the count of signals itself into null (a null
        # count failed "two signals" and left a night with a leak at the single-signal score)
        u = u.mutate(**{c: u[c].fill_null(0) for c in (
            "device_first_use_1d", "device_connects_1d", "device_connects_off_hours_1d",
            "logons_off_hours_1d", "events_out_off_hours_1d", "leak_sites_first_seen_1d")},
            _files=u.files_to_removable_1d.fill_null(0))
        # "new" = first ever, or off-hours use by someone with none in the months before the
        # last few weeks (an episode lasts weeks; an occasional user has older use)
        older = ibis.window(group_by=u.user_id, order_by=u.day,
                            rows=(-self.history_rows, -self.episode_rows))
        u = u.mutate(_older=(u.device_connects_1d > 0).cast("int32").sum().over(older))
        media_new = (u.device_first_use_1d > 0) | (
            (u.device_connects_off_hours_1d > 0) & (u._older.fill_null(0) == 0)
            & (u.days_observed_1d >= self.min_history_days))
        # fallbacks where the primary signal cannot be seen: a web log without upload/download
        # (CERT r4.2) shows a leak as a visit to a leak site; removable media without file
        # rows shows a drive but not what was copied to it
        blind_uploads = not window.sees("web_direction")
        blind_copies = not window.sees("removable_files")
        leaks = u.visits_paste_leak_1d if blind_uploads else u.uploads_paste_leak_1d
        u = u.mutate(_leaks=leaks.fill_null(0))
        if blind_uploads:
            # many people read paste sites: a visit stands for a leak only when such sites are
            # new to the person (none in the months before the episode), or a leak site is (a
            # first visit to it in the episode by someone who reads paste sites every day);
            # the months before must have been seen: in a person's first weeks all is new
            episode = ibis.window(group_by=u.user_id, order_by=u.day,
                                  preceding=self.episode_rows - 1, following=0)
            u = u.mutate(_older_leaks=(u._leaks > 0).cast("int32").sum().over(older),
                         _new_site=(u.leak_sites_first_seen_1d.fill_null(0) > 0).cast(
                             "int32").sum().over(episode))
            u = u.mutate(_leaks=ibis.ifelse(
                ((u._older_leaks.fill_null(0) == 0) | (u._new_site > 0))
                & (u.days_observed_1d >= self.min_history_days), u._leaks, 0))
        leak = u._leaks > 0
        u = u.mutate(_leaks_before=(u._leaks > 0).cast("int32").sum().over(older))
        z = u.events_after_hours_z_self_90d.fill_null(0.0)
        # on a business trip "after hours" is another time zone's working day
        travelling = u.days_since_travel_1d.notnull() & (u.days_since_travel_1d <= 1)
        # off hours unusual for the person: far more after-hours activity than usual, or a
        # first off-hours logon after months without one (where the log holds little else
        # after hours, e.g. logons, proxy and mail only, one night barely moves the activity)
        u = u.mutate(_older_nights=(u.logons_off_hours_1d > 0).cast("int32").sum().over(older))
        first_night = (u._older_nights.fill_null(0) == 0) & (
            u.days_observed_1d >= self.min_history_days)
        # an off-hours session in which files went to a drive new to the person is an unusual
        # night by what was done in it, even for someone who often works late
        media_night = (u.logons_off_hours_1d > 0) & media_new & (
            u.device_connects_off_hours_1d > 0) & (
            u.days_observed_1d >= self.min_history_days) & (
            ibis.literal(True) if blind_copies else u._files > 0)
        # ... and so is one in which something went to a leak site new to the person (where
        # uploads are seen: a visit cannot be told from a night's reading)
        leak_night = (u.logons_off_hours_1d > 0) & leak & (
            u._leaks_before.fill_null(0) == 0) & (u.events_out_off_hours_1d > 0) & (
            ibis.literal(not blind_uploads))
        # ... and so is one with two acts new to the person together: a drive connected off
        # hours and a leak site (CERT r4.2's own scenario-1 nights show a drive with no file
        # row and a leak-site visit: each alone is what a late worker may do, both is not)
        pair_night = (u.logons_off_hours_1d > 0) & leak & media_new & (
            u.device_connects_off_hours_1d > 0) & (u.days_observed_1d >= self.min_history_days)
        tonight = (u.logons_off_hours_1d > 0) & (
            (z >= self.min_after_hours_z) | first_night | media_night | leak_night
            | pair_night) & ~travelling
        # a night spans midnight: what leaves after it belongs to the session that began the
        # evening before
        order = ibis.window(group_by=u.user_id, order_by=u.day)
        u = u.mutate(_tonight=tonight, _z=z, _first_night=first_night,
                     _media_night=media_night & (z < self.min_after_hours_z) & ~first_night,
                     _leak_night=leak_night & ~media_night & (z < self.min_after_hours_z)
                     & ~first_night,
                     _pair_night=pair_night & ~leak_night & ~media_night
                     & (z < self.min_after_hours_z) & ~first_night)
        u = u.mutate(_last_night=u._tonight.lag().over(order).fill_null(False)
                     & (u.day.delta(u.day.lag().over(order), unit="day") <= 1))
        night = u._tonight | (leak & u._last_night)
        t = u.mutate(
            _night=night, _media=media_new, _leak=leak,
            _night_s=ibis.cases(
                (u._tonight, 0.45 + 0.3 * saturate(u._z - self.min_after_hours_z, 4.0)),
                (night, 0.45), else_=0.0),
            # a device plugged in with nothing copied is weak; files copied make it strong
            _media_s=ibis.ifelse(media_new,
                                 0.25 + 0.55 * saturate(u._files, 3.0), 0.0),
            _leak_s=ibis.ifelse(leak, 0.6 + 0.3 * saturate(u._leaks, 2.0), 0.0))
        rows = t.filter(t._night | t._media | t._leak)
        # media counts toward the conjunction once something was copied to it, once the
        # person's history is long enough for "new" to mean anything, and when it is part of
        # the night's work (plugged in off hours) or of a leak: a first device used at the
        # office by day, on a day that also had an evening session, is two separate habits
        # a file log rarely covers every copy to a drive (CERT r4.2 has one, yet none of its
        # scenario-1 drives has a file row): the person's first drive ever counts without a
        # row; a drive merely unused for months still needs something copied to it
        filled = ibis.literal(True) if blind_copies else (
            (rows._files > 0) | (rows.device_first_use_1d > 0))
        copied = rows._media & filled & (
            rows.days_observed_1d >= self.min_history_days) & (
            (rows.device_connects_off_hours_1d > 0) | rows._leak)
        signals = rows._night.cast("int8") + copied.cast("int8") + rows._leak.cast("int8")
        combined = noisy_or(rows._night_s, rows._media_s, rows._leak_s)
        score = ibis.ifelse(signals >= 2, combined, combined * self.single_signal_factor)
        reasons = [
            reason("night_before", rows._last_night.cast("float64"), None,
                   ibis.ifelse(rows._night & ~rows._tonight, rows._night_s, 0.0),
                   "a leak after midnight, in a night session that began the evening before"
                   " with unusual off-hours logons"),
            reason("events_after_hours_1d", rows.events_after_hours_1d, 0.0,
                   ibis.ifelse(rows._tonight, rows._night_s, 0.0),
                   number_text(rows.logons_off_hours_1d).concat(
                       " off-hours logons; after-hours activity ", number_text(rows._z, 1),
                       " robust SDs above the person's usual", ibis.cases(
                           (rows._first_night, "; the first off-hours logon in months"),
                           (rows._media_night, "; files went to a drive new to the person in"
                                               " that session"),
                           (rows._leak_night, "; something went to a leak site new to the"
                                              " person off hours"),
                           (rows._pair_night, "; a drive and a leak site, both new to the"
                                              " person, in that session"), else_=""))),
            reason("device_connects_1d", rows.device_connects_1d,
                   rows.device_connects_median_self_90d, rows._media_s,
                   ibis.literal("removable media new to the person: ").concat(
                       number_text(rows.device_connects_1d), " connections, ",
                       # null where copies cannot be seen: said so, not "0 files copied"
                       ibis.coalesce(number_text(rows.files_to_removable_1d).concat(
                           " files copied to it"), "files copied to it cannot be seen"))),
            reason("visits_paste_leak_1d" if blind_uploads else "uploads_paste_leak_1d",
                   rows._leaks, 0.0, rows._leak_s, number_text(rows._leaks).concat(
                       " visits to paste or leak sites new to the person (uploads cannot be"
                       " seen here)"
                       if blind_uploads else " uploads to paste or leak sites")),
        ]
        if blind_copies:
            reasons.append(reason(
                "files_to_removable_unseen", rows._media.cast("float64"), None,
                ibis.ifelse(rows._media, 0.01, 0.0),
                "files copied to removable media cannot be seen here: a new drive plugged in"
                " off hours or with a leak counts as the night's second signal"))
        found = findings(rows, detector=self, score=score, reasons=reasons)
        start, end = self.workday_start, self.workday_end
        return with_evidence(found, window.events, lambda e: (
            e.action.isin(("device_connect", "web_upload", "file_copy", "file_write"))
            & e.channel.isin(("removable_media", "web", "cloud_storage")))
            | ((e.action == "logon") & ((e.ts.hour() < start) | (e.ts.hour() >= end))))

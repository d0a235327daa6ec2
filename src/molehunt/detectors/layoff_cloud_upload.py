"""C5 layoff survivor: uploads to cloud storage after layoffs hit the group."""

from __future__ import annotations

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
class LayoffCloudUpload(Detector):
    """Uploads to cloud storage, unusual for the person, in the months after a layoff.

    Scenario: after a layoff wave hits the person's group, they upload documents to cloud
    storage or file-sharing services.

    Signals: ``uploads_cloud_storage_1d`` above the person's own usual
    (``uploads_cloud_storage_z_self_90d``, or any upload when their usual is none), within
    ``window_days`` of a layoff in the department (``days_since_layoff_in_group_1d``);
    sensitive outbound events the same day.

    False positives: habitual cloud-storage users (their usual is not zero and a normal day is
    not a deviation); layoff survivors who upload nothing.
    """

    name: ClassVar[str] = "layoff_cloud_upload"
    kind: ClassVar[str] = "rule"
    requires: ClassVar[frozenset[str]] = frozenset({
        "user_day", "uploads_cloud_storage_1d", "uploads_cloud_storage_z_self_90d",
        "uploads_cloud_storage_median_self_90d", "days_since_layoff_in_group_1d",
        "events_out_sensitive_1d"})

    #: Days after a layoff during which uploads count.
    window_days: int = 120
    #: Robust SDs above the person's usual for a day's uploads to be unusual.
    min_z: float = 2.5

    @classmethod
    def example_params(cls) -> list[dict[str, Any]]:
        """Default and a shorter period after the layoff."""
        return [{}, {"window_days": 30, "min_z": 4.0}]

    def score(self, window: Window) -> ibis.Table:
        """Findings on unusual upload days after a layoff."""
        u = window.user_day
        usual = u.uploads_cloud_storage_median_self_90d.fill_null(0)
        z = u.uploads_cloud_storage_z_self_90d.fill_null(0.0)
        unusual = (u.uploads_cloud_storage_1d > 0) & ((usual == 0) | (z >= self.min_z))
        t = u.mutate(_z=z, _usual=usual).filter(unusual)
        t = t.mutate(_after=ibis.ifelse(
            t.days_since_layoff_in_group_1d.notnull()
            & (t.days_since_layoff_in_group_1d <= self.window_days), 1, 0))
        upload_s = 0.2 + 0.2 * saturate(t.uploads_cloud_storage_1d, 3.0)
        layoff_s = ibis.ifelse(t._after > 0, 0.55, 0.0)
        sensitive_s = 0.3 * saturate(t.events_out_sensitive_1d, 3.0)
        score = ibis.ifelse(t._after > 0, noisy_or(upload_s, layoff_s, sensitive_s),
                            0.5 * noisy_or(upload_s, sensitive_s))
        reasons = [
            reason("uploads_cloud_storage_1d", t.uploads_cloud_storage_1d, t._usual, upload_s,
                   number_text(t.uploads_cloud_storage_1d).concat(
                       " uploads to cloud storage; usual ", number_text(t._usual))),
            reason("days_since_layoff_in_group_1d", t.days_since_layoff_in_group_1d, None,
                   layoff_s, ibis.literal("layoff in the department ").concat(
                       number_text(t.days_since_layoff_in_group_1d.fill_null(0)),
                       " days ago")),
            reason("events_out_sensitive_1d", t.events_out_sensitive_1d, 0.0, sensitive_s,
                   number_text(t.events_out_sensitive_1d).concat(
                       " confidential or higher items left the company that day")),
        ]
        found = findings(t, detector=self, score=score, reasons=reasons)
        return with_evidence(found, window.events, lambda e: (
            e.action == "web_upload") & (e.channel == "cloud_storage"))

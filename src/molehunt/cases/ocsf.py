"""Alerts as OCSF 1.7 findings, for SIEMs and data lakes that speak OCSF.

Every alert is one **Detection Finding** (class 2004); an alert whose evidence includes
protected content leaving (matches against the protected corpus) is also a **Data Security
Finding** (class 2006). Both carry the alert's public id as ``metadata.correlation_uid``, so a
SIEM can join them.

Where molehunt's parts go:

* each finding of the alert's days (detector, day, score, reasons, evidence event ids) is one
  entry of ``evidences`` (its reasons and event ids in ``data``, the person in ``user``);
* the evidence event ids are ``finding_info.related_events`` and ``observables``, and the
  detectors are ``finding_info.related_analytics`` (typed by the detector's kind);
* risk 0-100 is ``risk_score``, the band is ``severity_id`` and ``risk_level_id``, the console's
  workflow state is ``status_id``.

Input is what :meth:`molehunt.cases.service.Console.ocsf_alerts` returns: pseudonymous already
(people by pseudonym, log strings redacted), as in the CEF export. Nothing here names a person.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Mapping
from typing import Any

from molehunt import __version__ as _version

#: The OCSF schema version the records follow.
OCSF_VERSION = "1.7.0"
#: OCSF class of every alert's record.
DETECTION_FINDING = 2004
#: OCSF class of the extra record of an alert whose evidence carried protected content out.
DATA_SECURITY_FINDING = 2006
_FINDINGS_CATEGORY = 2
_CLASS_NAMES = {DETECTION_FINDING: "Detection Finding",
                DATA_SECURITY_FINDING: "Data Security Finding"}
#: Evidence event ids listed per record: a SIEM record stays small, the console has them all.
MAX_RELATED_EVENTS = 500

# OCSF enumerations (the captions are OCSF's own, written next to the ids a SIEM reads)
_SEVERITY = {"none": (1, "Informational"), "low": (2, "Low"), "medium": (3, "Medium"),
             "high": (4, "High"), "critical": (5, "Critical")}
_RISK_LEVEL = {"none": (0, "Info"), "low": (1, "Low"), "medium": (2, "Medium"),
               "high": (3, "High"), "critical": (4, "Critical")}
#: Console workflow state → finding status; a dismissed alert was suppressed by an analyst.
_STATUS = {"new": (1, "New"), "assigned": (2, "In Progress"), "confirmed": (4, "Resolved"),
           "dismissed": (3, "Suppressed")}
#: Console workflow state → activity: the record creates, updates or closes the finding.
_ACTIVITY = {"new": (1, "Create"), "assigned": (2, "Update"), "confirmed": (2, "Update"),
             "dismissed": (3, "Close")}
#: Detector kind → analytic type.
_ANALYTIC_TYPE = {"rule": (1, "Rule"), "baseline": (2, "Behavioral"),
                  "sequence": (2, "Behavioral"), "content": (5, "Fingerprinting"),
                  "graph": (99, "Other")}
#: Our sensitivity 0-4 → OCSF data confidentiality.
_CONFIDENTIALITY = {0: (1, "Not Confidential"), 1: (6, "Restricted"), 2: (2, "Confidential"),
                    3: (3, "Secret"), 4: (4, "Top Secret")}
_USER_UID_OBSERVABLE = 31  # "User UID"
_OTHER_OBSERVABLE = 99
_DETECTION_SYSTEM_OTHER = 99
_DATA_IN_TRANSIT = 2
_BUSINESS_DATA = 4


@functools.cache
def _detector_kinds() -> dict[str, str]:
    from molehunt.detectors import registry

    return {name: cls.kind for name, cls in registry().items()}


def epoch_ms(day: str | dt.date, end_of_day: bool = False) -> int:
    """Milliseconds since 1970 (UTC) at the start, or the last millisecond, of a day.

    >>> epoch_ms("2024-01-02"), epoch_ms("2024-01-02", end_of_day=True)
    (1704153600000, 1704239999999)
    """
    first = day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day)[:10])
    start = dt.datetime(first.year, first.month, first.day, tzinfo=dt.UTC)
    millis = int(start.timestamp()) * 1000
    return millis + 86_400_000 - 1 if end_of_day else millis


def _base(alert: Mapping[str, Any], class_uid: int, uid: str) -> dict[str, Any]:
    """The attributes every record of an alert shares (class, time, severity, metadata)."""
    band = str(alert.get("band") or "none")
    severity_id, severity = _SEVERITY.get(band, (0, "Unknown"))
    risk_level_id, risk_level = _RISK_LEVEL.get(band, (0, "Info"))
    state = str(alert.get("state") or "new")
    activity_id, activity = _ACTIVITY.get(state, (99, "Other"))
    status_id, status = _STATUS.get(state, (99, "Other"))
    class_name = _CLASS_NAMES[class_uid]
    return {
        "category_uid": _FINDINGS_CATEGORY, "category_name": "Findings",
        "class_uid": class_uid, "class_name": class_name,
        "activity_id": activity_id, "activity_name": activity,
        "type_uid": class_uid * 100 + activity_id, "type_name": f"{class_name}: {activity}",
        "time": epoch_ms(alert["last_day"]),
        "start_time": epoch_ms(alert["opened_day"]),
        "end_time": epoch_ms(alert["last_day"], end_of_day=True),
        "severity_id": severity_id, "severity": severity,
        "risk_level_id": risk_level_id, "risk_level": risk_level,
        "risk_score": round(float(alert.get("peak_risk") or 0.0)),
        "status_id": status_id, "status": status, "status_detail": state,
        "is_alert": True,
        "message": str(alert.get("summary") or f"Insider risk {band}"),
        "metadata": {
            "version": OCSF_VERSION, "uid": uid,
            "correlation_uid": str(alert["alert_id"]),
            "product": {"name": "molehunt", "vendor_name": "molehunt", "version": _version},
        },
    }


def _person(alert: Mapping[str, Any]) -> dict[str, Any]:
    return {"uid": str(alert["person"]), "type_id": 1, "type": "User"}


def _observables(people: list[str], event_ids: list[str], path: str) -> list[dict[str, Any]]:
    return ([{"name": "user.uid", "type_id": _USER_UID_OBSERVABLE, "type": "User UID",
              "value": p} for p in people]
            + [{"name": path, "type_id": _OTHER_OBSERVABLE, "type": "Event UID", "value": e}
               for e in event_ids])


def _related_events(event_ids: list[str]) -> list[dict[str, Any]]:
    return [{"uid": e, "product": {"name": "molehunt", "vendor_name": "molehunt"}}
            for e in event_ids]


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def detection_finding(alert: Mapping[str, Any]) -> dict[str, Any]:
    """One alert as an OCSF Detection Finding (class 2004).

    >>> record = detection_finding({
    ...     "alert_id": "AL-1", "person": "P-7", "band": "high", "peak_risk": 81.4,
    ...     "opened_day": "2024-01-02", "last_day": "2024-01-05", "state": "new",
    ...     "summary": "s", "reasons": [], "findings": [
    ...         {"day": "2024-01-05", "detector": "snooper", "score": 0.9,
    ...          "reasons": [{"text": "read 40 mailboxes"}], "evidence": ["e1", "e2"]}]})
    >>> record["class_uid"], record["type_uid"], record["severity_id"], record["risk_score"]
    (2004, 200401, 4, 81)
    >>> [e["uid"] for e in record["finding_info"]["related_events"]]
    ['e1', 'e2']
    >>> record["evidences"][0]["data"]["reasons"][0]["text"]
    'read 40 mailboxes'
    """
    findings = list(alert.get("findings") or [])
    kinds = _detector_kinds()
    event_ids = _unique([str(e) for f in findings for e in (f.get("evidence") or [])])
    people = _unique([str(alert["person"]),
                      *(str(p) for f in findings for p in (f.get("related_users") or []))])
    detectors = _unique([*(str(d) for d in alert.get("detectors") or []),
                         *(str(f["detector"]) for f in findings)])
    analytics = []
    for name in detectors:
        type_id, type_name = _ANALYTIC_TYPE.get(kinds.get(name, ""), (99, "Other"))
        analytics.append({"uid": name, "name": name, "type_id": type_id, "type": type_name,
                          "category": "insider risk"})
    evidences = []
    for finding in findings:
        data: dict[str, Any] = {
            "detector": str(finding["detector"]), "day": str(finding["day"])[:10],
            "score": finding.get("score"), "reasons": list(finding.get("reasons") or []),
            "event_ids": [str(e) for e in finding.get("evidence") or []]}
        if finding.get("related_users"):
            data["related_users"] = [str(p) for p in finding["related_users"]]
        evidences.append({"uid": f"{finding['detector']}/{data['day']}",
                          "name": str(finding["detector"]), "user": _person(alert),
                          "data": data})
    if not evidences:  # an alert whose findings are gone still says why it was raised
        evidences.append({"name": "alert", "user": _person(alert),
                          "data": {"reasons": list(alert.get("reasons") or [])}})
    listed = event_ids[:MAX_RELATED_EVENTS]
    record = _base(alert, DETECTION_FINDING, str(alert["alert_id"]))
    record.update({
        "finding_info": {
            "uid": str(alert["alert_id"]), "title": f"Insider risk {alert.get('band')}",
            "desc": str(alert.get("summary") or ""), "types": ["Insider risk"],
            "first_seen_time": record["start_time"], "last_seen_time": record["end_time"],
            "analytic": {"name": "molehunt risk scoring", "type_id": 3, "type": "Statistical",
                         "category": "insider risk"},
            "related_analytics": analytics,
            "related_events": _related_events(listed),
            "related_events_count": len(event_ids),
        },
        "evidences": evidences,
        "observables": _observables(people, listed, "finding_info.related_events.uid"),
    })
    return record


def data_security_finding(alert: Mapping[str, Any]) -> dict[str, Any] | None:
    """The alert's protected-content hits as an OCSF Data Security Finding (class 2006).

    ``alert["content_hits"]`` lists the evidence events that carried protected documents out
    (event id, day, action, channel, doc id, matched fraction, sensitivity); None without any.

    >>> record = data_security_finding({
    ...     "alert_id": "AL-1", "person": "P-7", "band": "critical", "peak_risk": 95,
    ...     "opened_day": "2024-01-02", "last_day": "2024-01-05", "state": "dismissed",
    ...     "content_hits": [{"event_id": "e2", "day": "2024-01-04", "action": "email_send",
    ...                       "channel": "email_external", "doc_id": "D-1",
    ...                       "matched_fraction": 0.25, "hits": 12, "sensitivity": 3}]})
    >>> record["class_uid"], record["type_uid"], record["status_id"]
    (2006, 200603, 3)
    >>> record["data_security"]["confidentiality_id"], record["resources"][0]["uid"]
    (3, 'D-1')
    >>> data_security_finding({"alert_id": "AL-2", "content_hits": []}) is None
    True
    """
    hits = list(alert.get("content_hits") or [])
    if not hits:
        return None
    top = max(int(h.get("sensitivity") or 0) for h in hits)
    confidentiality_id, confidentiality = _CONFIDENTIALITY.get(top, (0, "Unknown"))
    event_ids = _unique([str(h["event_id"]) for h in hits])
    documents = _unique([str(h["doc_id"]) for h in hits])
    uid = f"{alert['alert_id']}/protected-content"
    listed = event_ids[:MAX_RELATED_EVENTS]
    record = _base(alert, DATA_SECURITY_FINDING, uid)
    record.update({
        "actor": {"user": _person(alert)},
        "finding_info": {
            "uid": uid, "uid_alt": str(alert["alert_id"]),
            "title": f"Protected content left: {len(documents)} document(s) in"
                     f" {len(event_ids)} event(s)",
            "desc": "Outbound events of this alert's evidence contain fingerprinted parts of"
                    " documents in the protected corpus.",
            "types": ["Insider risk", "Data exfiltration"],
            "first_seen_time": min(epoch_ms(h["day"]) for h in hits),
            "last_seen_time": max(epoch_ms(h["day"], end_of_day=True) for h in hits),
            "analytic": {"name": "protected-content match", "type_id": 5,
                         "type": "Fingerprinting", "category": "data security"},
            "related_events": _related_events(listed),
            "related_events_count": len(event_ids),
        },
        "data_security": {
            "detection_system_id": _DETECTION_SYSTEM_OTHER, "detection_system": "Other",
            "detection_pattern": "fingerprint containment of a protected document",
            "data_lifecycle_state_id": _DATA_IN_TRANSIT, "data_lifecycle_state":
                "Data in-Transit",
            "confidentiality_id": confidentiality_id, "confidentiality": confidentiality,
            "category_id": _BUSINESS_DATA, "category": "Business",
        },
        "resources": [
            {"uid": str(h["doc_id"]), "type": "protected document",
             "data": {"event_id": str(h["event_id"]), "day": str(h["day"])[:10],
                      "action": h.get("action"), "channel": h.get("channel"),
                      "matched_fraction": h.get("matched_fraction"), "hits": h.get("hits"),
                      "sensitivity": h.get("sensitivity")}}
            for h in hits[:MAX_RELATED_EVENTS]],
        "observables": _observables([str(alert["person"])], listed,
                                    "finding_info.related_events.uid"),
    })
    return record


def json_safe(value: Any) -> Any:
    """``value`` with every float that JSON cannot write (NaN, infinities) as None: a reason's
    observed or expected figure may be one, and a SIEM must get valid JSON.

    >>> json_safe({"observed": float("nan"), "list": [1.5, float("inf")]})
    {'observed': None, 'list': [1.5, None]}
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def ocsf_records(alert: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The OCSF records of one alert: its Detection Finding, then its Data Security Finding
    when protected content was among the evidence (valid JSON: see :func:`json_safe`)."""
    records = [detection_finding(alert)]
    data = data_security_finding(alert)
    if data is not None:
        records.append(data)
    return [json_safe(record) for record in records]

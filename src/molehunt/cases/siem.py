"""Alert exports for SIEMs: JSON (pull, or pushed to a webhook) and syslog CEF; and the
audit log's signed checkpoints, so that a copy of each lives outside the console's host.

Exports carry pseudonyms only: a SIEM is read by more people than the console.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from molehunt import __version__ as _version
from molehunt.errors import MolehuntError

_SEVERITY = {"none": 0, "low": 3, "medium": 5, "high": 8, "critical": 10}


def _cef_header(value: str) -> str:
    return value.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def _cef_value(value: object) -> str:
    text = str(value)
    return (text.replace("\\", "\\\\").replace("=", "\\=").replace("\n", "\\n")
            .replace("\r", "\\r"))


def cef_line(alert: dict[str, Any]) -> str:
    """One alert as an ArcSight CEF record.

    >>> cef_line({"alert_id": "a|1", "person": "P-X", "band": "high", "peak_risk": 81.5,
    ...           "opened_day": "2024-01-02", "last_day": "2024-01-05",
    ...           "detectors": ["d=1"], "state": "new", "summary": "x"})[:64]
    'CEF:0|molehunt|molehunt|0.1.0|insider-alert|Insider risk high|8|'
    """
    extension = {
        "externalId": alert["alert_id"], "suser": alert["person"],
        "cs1Label": "detectors", "cs1": ",".join(alert.get("detectors") or []),
        "cs2Label": "state", "cs2": alert.get("state", ""),
        "cn1Label": "peakRisk", "cn1": alert.get("peak_risk", 0),
        "start": alert.get("opened_day", ""), "end": alert.get("last_day", ""),
        "msg": alert.get("summary", ""),
    }
    band = str(alert.get("band", "none"))
    head = "|".join(_cef_header(p) for p in ("CEF:0", "molehunt", "molehunt", _version,
                                              "insider-alert", f"Insider risk {band}",
                                              str(_SEVERITY.get(band, 5))))
    return head + "|" + " ".join(f"{k}={_cef_value(v)}" for k, v in extension.items())


def syslog_line(alert: dict[str, Any], hostname: str = "molehunt") -> str:
    """A CEF record wrapped in an RFC 5424 syslog message (facility local4)."""
    priority = 20 * 8 + (2 if alert.get("band") == "critical" else 4)
    return f"<{priority}>1 - {hostname} molehunt - insider-alert - {cef_line(alert)}"


def send_syslog(alerts: list[dict[str, Any]], host: str, port: int, protocol: str = "udp"
                ) -> int:
    """Send alerts as CEF-over-syslog to ``host:port`` (UDP, or TCP with octet counting)."""
    return _send_lines([syslog_line(a) for a in alerts], host, port, protocol)


def _send_lines(messages: list[str], host: str, port: int, protocol: str) -> int:
    lines = [m.encode("utf-8") for m in messages]
    try:
        if protocol == "tcp":
            with socket.create_connection((host, port), timeout=10) as connection:
                for line in lines:
                    connection.sendall(str(len(line)).encode() + b" " + line)
        else:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as datagram:
                for line in lines:
                    datagram.sendto(line, (host, port))
    except OSError as error:
        raise MolehuntError(f"syslog {host}:{port}: {error}") from None
    return len(lines)


def post_webhook(alerts: list[dict[str, Any]], url: str, timeout: float = 10) -> int:
    """POST ``{"alerts": [...]}`` as JSON to ``url``; returns the HTTP status."""
    if not url.startswith(("http://", "https://")):
        raise MolehuntError(f"webhook URL must be http(s): {url!r}")
    return _post_json({"source": "molehunt", "alerts": alerts}, url, timeout)


def _post_json(document: dict[str, Any], url: str, timeout: float) -> int:
    body = json.dumps(document, default=str).encode("utf-8")
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except (urllib.error.URLError, OSError) as error:
        raise MolehuntError(f"webhook {url}: {error}") from None


def checkpoint_cef(checkpoint: dict[str, Any]) -> str:
    """A signed audit checkpoint (:class:`molehunt.cases.audit.Checkpoint`) as a CEF record.

    >>> checkpoint_cef({"seq": 7, "head": "ab", "first": "cd", "keyed_from": 1,
    ...                 "at": "2026-01-01T00:00:00", "signature": "c2ln"}).split("|")[-1][:24]
    'cn1Label=seq cn1=7 cn2La'
    """
    extension = {
        "cn1Label": "seq", "cn1": checkpoint["seq"],
        "cn2Label": "keyedFrom", "cn2": checkpoint["keyed_from"],
        "cs1Label": "head", "cs1": checkpoint["head"],
        "cs2Label": "first", "cs2": checkpoint["first"],
        "cs3Label": "signature", "cs3": checkpoint["signature"],
        "rt": checkpoint["at"],
    }
    head = "|".join(_cef_header(p) for p in ("CEF:0", "molehunt", "molehunt", _version,
                                              "audit-checkpoint", "Audit log checkpoint", "3"))
    return head + "|" + " ".join(f"{k}={_cef_value(v)}" for k, v in extension.items())


def checkpoint_sender(target: str) -> Callable[[dict[str, Any]], None]:
    """A function that sends one checkpoint to ``target``: ``syslog://HOST:PORT`` (UDP),
    ``syslog+tcp://HOST:PORT``, or an ``http(s)://`` webhook (JSON ``{"audit_checkpoint":
    ...}``). Anything else is refused at once, in one line.

    >>> checkpoint_sender("ftp://x")
    Traceback (most recent call last):
    ...
    molehunt.errors.MolehuntError: audit SIEM target must be syslog://HOST:PORT, \
syslog+tcp://HOST:PORT or an http(s) URL: 'ftp://x'
    """
    if target.startswith(("http://", "https://")):
        def post(checkpoint: dict[str, Any]) -> None:
            _post_json({"source": "molehunt", "audit_checkpoint": checkpoint}, target, 10)
        return post
    for scheme, protocol in (("syslog://", "udp"), ("syslog+tcp://", "tcp")):
        if target.startswith(scheme):
            host, _, port = target[len(scheme):].rpartition(":")
            if host and port.isdigit():
                def send(checkpoint: dict[str, Any], host: str = host, port: int = int(port),
                         protocol: str = protocol) -> None:
                    message = (f"<{20 * 8 + 5}>1 - molehunt molehunt - audit-checkpoint - "
                               + checkpoint_cef(checkpoint))
                    _send_lines([message], host, port, protocol)
                return send
    raise MolehuntError("audit SIEM target must be syslog://HOST:PORT, syslog+tcp://HOST:PORT"
                        f" or an http(s) URL: {target!r}")

"""Tiny server-rendered SVG charts (numbers only, so nothing from the logs reaches them)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from markupsafe import Markup

BAND_COLOURS = {"none": "#b8c4ce", "low": "#7fb3d5", "medium": "#f4d03f", "high": "#eb984e",
                "critical": "#cb4335"}


def sparkline_svg(values: list[float], width: int = 120, height: int = 24,
                  top: float = 100.0) -> Markup:
    """A risk trend as an SVG polyline.

    >>> str(sparkline_svg([0, 100], 10, 10))[:40]
    '<svg class="spark" width="10" height="10'
    """
    if not values:
        return Markup(f'<svg class="spark" width="{width}" height="{height}"></svg>')
    step = width / max(1, len(values) - 1)
    points = " ".join(
        f"{i * step:.1f},{height - min(max(float(v), 0.0), top) / top * height:.1f}"
        for i, v in enumerate(values))
    return Markup(f'<svg class="spark" width="{width}" height="{height}" role="img"'
                  f' aria-label="risk trend"><polyline fill="none" stroke="#2e4053"'
                  f' stroke-width="1.5" points="{points}"/></svg>')


def bars_svg(counts: dict[str, int], width: int = 360, height: int = 120) -> Markup:
    """People per band as a bar chart.

    >>> "critical" in str(bars_svg({"none": 3, "critical": 1}))
    True
    """
    names = list(counts)
    largest = max([*counts.values(), 1])
    slot = width / max(1, len(names))
    parts = [f'<svg class="bars" width="{width}" height="{height + 30}" role="img"'
             ' aria-label="people per risk band">']
    for i, name in enumerate(names):
        value = int(counts[name])
        bar = value / largest * height
        x = i * slot + slot * 0.15
        colour = BAND_COLOURS.get(name, "#888")
        parts.append(f'<rect x="{x:.1f}" y="{height - bar:.1f}" width="{slot * 0.7:.1f}"'
                     f' height="{bar:.1f}" fill="{colour}"/>')
        parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{height + 14}"'
                     f' text-anchor="middle">{Markup.escape(name)}</text>')
        parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{height + 27}"'
                     f' text-anchor="middle">{value:,}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def timeline_svg(days: list[dict[str, object]], width: int = 720, height: int = 90) -> Markup:
    """An alert's risk per day as bars in band colours, the alert's days shaded and the days a
    detector fired marked by a dot above the bar.

    >>> svg = str(timeline_svg([{"day": "2024-01-01", "risk": 70.0, "band": "high",
    ...                          "detectors": ["x"], "in_alert": True}]))
    >>> "circle" in svg and "#eb984e" in svg
    True
    """
    if not days:
        return Markup(f'<svg class="timeline" width="{width}" height="{height}"></svg>')
    slot = width / len(days)
    chart = height - 12
    parts = [f'<svg class="timeline" width="{width}" height="{height + 14}" role="img"'
             ' aria-label="risk per day; dots mark the days a detector fired">']
    shaded = [i for i, d in enumerate(days) if d.get("in_alert")]
    if shaded:
        parts.append(f'<rect x="{shaded[0] * slot:.1f}" y="0" width="{len(shaded) * slot:.1f}"'
                     f' height="{height}" fill="#f2f3f4"/>')
    for i, day in enumerate(days):
        risk = min(max(float(str(day.get("risk") or 0.0)), 0.0), 100.0)
        bar = risk / 100.0 * chart
        colour = BAND_COLOURS.get(str(day.get("band")), "#888")
        fired = day.get("detectors")
        names = ", ".join(str(n) for n in fired) if isinstance(fired, list) else ""
        title = Markup.escape(f"{day.get('day')}: risk {risk:g}" + (f", {names}" if names
                                                                     else ""))
        parts.append(f'<rect x="{i * slot + slot * 0.1:.1f}" y="{height - bar:.1f}"'
                     f' width="{slot * 0.8:.1f}" height="{bar:.1f}" fill="{colour}">'
                     f"<title>{title}</title></rect>")
        if names:
            parts.append(f'<circle cx="{i * slot + slot / 2:.1f}" cy="{height - bar - 6:.1f}"'
                         ' r="3" fill="#2e4053"/>')
    parts.append(f'<text x="0" y="{height + 12}">{Markup.escape(str(days[0].get("day")))}</text>')
    parts.append(f'<text x="{width}" y="{height + 12}" text-anchor="end">'
                 f'{Markup.escape(str(days[-1].get("day")))}</text></svg>')
    return Markup("".join(parts))


#: line colours of the channels in the cumulative chart (others: grey)
CHANNEL_COLOURS = {"removable_media": "#cb4335", "email_external": "#2874a6",
                   "webmail": "#7d3c98", "web": "#d68910", "cloud_storage": "#17a589",
                   "printer": "#566573"}


def _x_of(days: list[str], width: float, left: float) -> dict[str, float]:
    step = (width - left) / max(1, len(days) - 1)
    return {day: left + i * step for i, day in enumerate(days)}


def _short(amount: float) -> str:
    for unit in ("", "k", "M", "G"):
        if abs(amount) < 1000:
            return f"{amount:.3g}{unit}"
        amount /= 1000
    return f"{amount:.3g}T"


def risk_chart_svg(chart: dict[str, Any], width: int = 1100, height: int = 220) -> Markup:
    """The person's risk over the chart's days against the peer band, with a dot on each day
    a detector fired and a flag (and shaded span) for each alert.

    >>> svg = str(risk_chart_svg({"days": [{"day": "2024-01-01", "risk": 10.0},
    ...     {"day": "2024-01-02", "risk": 80.0}], "peer_band": [{"day": "2024-01-01",
    ...     "p25": 1.0, "p50": 2.0, "p75": 5.0, "p90": 9.0}], "findings": [{"day": "2024-01-02",
    ...     "detectors": ["x"], "score": 0.9}], "alerts": [{"alert_id": "AL-1",
    ...     "opened": "2024-01-02", "last": "2024-01-02", "band": "high"}]}))
    >>> all(c in svg for c in ("peer-band", "finding-marker", "alert-marker", "risk-line"))
    True
    """
    days = [str(d["day"]) for d in chart.get("days") or []]
    if not days:
        return Markup(f'<svg class="risk-chart" width="{width}" height="{height}"'
                      ' role="img" aria-label="no risk results"></svg>')
    left, top, bottom = 34.0, 16.0, height - 22.0
    xs = _x_of(days, width - 8, left)

    def y(value: Any) -> float:
        return bottom - min(max(float(value or 0.0), 0.0), 100.0) / 100.0 * (bottom - top)

    parts = [f'<svg class="risk-chart" width="{width}" height="{height}" role="img"'
             ' aria-label="risk per day against the peer band; dots mark findings,'
             ' flags mark alerts">']
    for tick in (0, 25, 50, 75, 100):
        parts.append(f'<line x1="{left}" x2="{width - 8}" y1="{y(tick):.1f}" y2="{y(tick):.1f}"'
                     ' stroke="#eaeded"/><text class="axis" x="{0}" y="{1:.1f}"'
                     ' text-anchor="end">{2}</text>'.format(left - 4, y(tick) + 3, tick))
    for alert in chart.get("alerts") or []:
        opened = xs.get(str(alert["opened"]), left)
        ended = xs.get(str(alert["last"]), width - 8.0)
        title = Markup.escape(f"alert {alert['alert_id']}: {alert['opened']} – {alert['last']}"
                              f", {alert.get('band', '')}")
        parts.append(f'<rect class="alert-span" x="{opened:.1f}" y="{top}"'
                     f' width="{max(ended - opened, 2.0):.1f}" height="{bottom - top:.1f}"'
                     f' fill="#fdedec"><title>{title}</title></rect>')
    band = [q for q in chart.get("peer_band") or [] if str(q["day"]) in xs]
    if band:
        upper = [f"{xs[str(q['day'])]:.1f},{y(q['p75']):.1f}" for q in band]
        lower = [f"{xs[str(q['day'])]:.1f},{y(q['p25']):.1f}" for q in reversed(band)]
        parts.append(f'<polygon class="peer-band" points="{" ".join(upper + lower)}"'
                     ' fill="#d6eaf8" stroke="none"><title>peers: 25th to 75th percentile'
                     '</title></polygon>')
        for name, dash in (("p50", "4 3"), ("p90", "1 3")):
            points = " ".join(f"{xs[str(q['day'])]:.1f},{y(q[name]):.1f}" for q in band)
            parts.append(f'<polyline class="peer-{name}" points="{points}" fill="none"'
                         f' stroke="#5d6d7e" stroke-dasharray="{dash}"/>')
    risk = {str(d["day"]): d["risk"] for d in chart["days"]}
    points = " ".join(f"{xs[d]:.1f},{y(risk[d]):.1f}" for d in days)
    parts.append(f'<polyline class="risk-line" points="{points}" fill="none"'
                 ' stroke="#cb4335" stroke-width="1.8"/>')
    for alert in chart.get("alerts") or []:
        x = xs.get(str(alert["opened"]))
        if x is None:
            continue
        colour = BAND_COLOURS.get(str(alert.get("band")), "#888")
        parts.append(f'<path class="alert-marker" d="M{x:.1f},{top - 12} l0,12 M{x:.1f},'
                     f'{top - 12} l9,4 l-9,4 z" stroke="#1b2631" fill="{colour}">'
                     f'<title>{Markup.escape("alert " + str(alert["alert_id"]))}</title></path>')
    for marker in chart.get("findings") or []:
        day = str(marker["day"])
        if day not in xs:
            continue
        title = Markup.escape(f"{day}: {', '.join(map(str, marker['detectors']))}"
                              f" (score {float(marker['score']):.2f})")
        parts.append(f'<circle class="finding-marker" cx="{xs[day]:.1f}"'
                     f' cy="{y(risk.get(day)):.1f}" r="4.5" fill="#1b2631" stroke="#fff">'
                     f"<title>{title}</title></circle>")
    parts.append(f'<text class="axis" x="{left}" y="{height - 6}">'
                 f"{Markup.escape(days[0])}</text>")
    parts.append(f'<text class="axis" x="{width - 8}" y="{height - 6}" text-anchor="end">'
                 f"{Markup.escape(days[-1])}</text></svg>")
    return Markup("".join(parts))


def cumulative_svg(leaving: list[dict[str, Any]], first: str, last: str, width: int = 1100,
                   height: int = 180, peers: list[dict[str, Any]] | None = None,
                   total: list[dict[str, Any]] | None = None) -> Markup:
    """Cumulative data leaving per channel from ``first`` to ``last`` (bytes where any channel
    counted bytes, else events), one step line per channel; with ``peers`` (per day ``p50`` and
    ``p90`` of the peers' totals over all channels), the peers' median and 90th percentile as
    dashed and dotted lines, and with ``total`` the person's own total over all channels, the
    line to read against them.

    >>> svg = str(cumulative_svg([{"channel": "web", "bytes": 5, "events": 1, "points": [
    ...     {"day": "2024-01-02", "bytes": 5, "events": 1}]}], "2024-01-01", "2024-01-03"))
    >>> 'data-channel="web"' in svg and "leaving-line" in svg
    True
    """
    if not leaving:
        return Markup(f'<svg class="leaving" width="{width}" height="{height}" role="img"'
                      ' aria-label="nothing left"></svg>')
    measure = "bytes" if any(c["bytes"] for c in leaving) else "events"
    start, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    span = max(1, (end - start).days)
    left, top, bottom = 46.0, 8.0, height - 22.0
    largest = max([max(float(p[measure]) for p in c["points"]) for c in leaving]
                  + [float(q["p90"]) for q in peers or []]
                  + [float(t[measure]) for t in total or []]) or 1.0

    def x(day: str) -> float:
        offset = (dt.date.fromisoformat(day) - start).days
        return left + min(max(offset, 0), span) / span * (width - 8 - left)

    def y(value: float) -> float:
        return bottom - float(value) / largest * (bottom - top)

    parts = [f'<svg class="leaving" width="{width}" height="{height}" role="img"'
             f' aria-label="cumulative {measure} leaving per channel">']
    for share in (0.0, 0.5, 1.0):
        parts.append(f'<line x1="{left}" x2="{width - 8}" y1="{y(largest * share):.1f}"'
                     f' y2="{y(largest * share):.1f}" stroke="#eaeded"/>'
                     f'<text class="axis" x="{left - 4}" y="{y(largest * share) + 3:.1f}"'
                     f' text-anchor="end">{_short(largest * share)}</text>')
    for name, dash in (("p50", "4 3"), ("p90", "1 3")):
        if peers:
            points = " ".join(f"{x(str(q['day'])):.1f},{y(q[name]):.1f}" for q in peers)
            parts.append(f'<polyline class="peer-leaving-{name}" points="{points}" fill="none"'
                         f' stroke="#5d6d7e" stroke-dasharray="{dash}"><title>peers\' {name}'
                         f" of {measure} left, all channels</title></polyline>")
    if total:
        points = " ".join(f"{x(str(t['day'])):.1f},{y(t[measure]):.1f}" for t in total)
        parts.append(f'<polyline class="leaving-total" points="{points}" fill="none"'
                     f' stroke="#1b2631" stroke-width="2.5"><title>all channels:'
                     f" {int(total[-1][measure]):,} {measure}</title></polyline>")
    for channel in leaving:
        colour = CHANNEL_COLOURS.get(str(channel["channel"]), "#99a3a4")
        steps: list[str] = []
        level = y(0.0)
        for point in channel["points"]:
            at = x(str(point["day"]))
            steps += [f"{at:.1f},{level:.1f}", f"{at:.1f},{y(point[measure]):.1f}"]
            level = y(point[measure])
        steps.append(f"{width - 8:.1f},{level:.1f}")
        name = Markup.escape(str(channel["channel"]))
        parts.append(f'<polyline class="leaving-line" data-channel="{name}"'
                     f' points="{x(first):.1f},{y(0.0):.1f} {" ".join(steps)}" fill="none"'
                     f' stroke="{colour}" stroke-width="1.8"><title>{name}: '
                     f'{int(channel[measure]):,} {measure} in all</title></polyline>')
    parts.append(f'<text class="axis" x="{left}" y="{height - 6}">{Markup.escape(first)}</text>'
                 f'<text class="axis" x="{width - 8}" y="{height - 6}" text-anchor="end">'
                 f"{Markup.escape(last)}</text></svg>")
    return Markup("".join(parts))

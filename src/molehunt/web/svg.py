"""Tiny server-rendered SVG charts (numbers only, so nothing from the logs reaches them)."""

from __future__ import annotations

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

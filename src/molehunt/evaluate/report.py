"""The evaluation report: one self-contained HTML file with the figures and the plots.

Plots (PNG, embedded): recall against the daily budget for molehunt and the baseline, time to
detect per insider, each insider's risk over time with the malicious period shaded, and the
distribution of people's peak scores.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
from collections.abc import Mapping
from typing import Any

from molehunt.evaluate.metrics import Insider, Scores, detection_day
from molehunt.evaluate.run import lead_floor


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _recall_curve(plots: Mapping[str, Any]) -> str:
    import matplotlib.pyplot as plt

    insiders: list[Insider] = plots["insiders"]
    budgets = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05]
    figure, axis = plt.subplots(figsize=(6, 3.5))
    for label, scores in (("molehunt", plots["scores"]), ("isolation forest", plots["baseline"])):
        for group, codes in (("C1-C5", "C"), ("S1-S4", "S")):
            members = [i for i in insiders if i.scenario.startswith(codes)]
            if not members:
                continue
            floor = lead_floor("molehunt" if label == "molehunt" else "baseline")
            recall = [sum(1 for i in members if detection_day(
                i, scores, plots["population"], b, floor)) / len(members) for b in budgets]
            axis.plot([100 * b for b in budgets], recall, marker="o",
                      linestyle="-" if label == "molehunt" else "--", label=f"{label} {group}")
    axis.set_xlabel("daily budget (% of people read)")
    axis.set_ylabel("recall")
    axis.set_ylim(-0.02, 1.02)
    axis.legend(fontsize=7)
    axis.set_title("Recall against the daily budget")
    return _png(figure)


def _time_to_detect(figures: Mapping[str, Any]) -> str:
    import matplotlib.pyplot as plt

    rows = figures["molehunt"]["groups"]["all"]["recall"]["1.0%"]["insiders"]
    base = {r["user_id"]: r for r in
            figures["baseline_isolation_forest"]["groups"]["all"]["recall"]["1.0%"]["insiders"]}
    labels = [f"{r['scenario']} {r['user_id']}" for r in rows]
    figure, axis = plt.subplots(figsize=(6, 0.3 * len(rows) + 1))
    ys = range(len(rows))
    never = max([r["days_to_detect"] or 0 for r in rows] + [30]) * 1.1
    axis.barh([y + 0.2 for y in ys], [r["days_to_detect"] if r["days_to_detect"] is not None
                                      else never for r in rows], height=0.4, label="molehunt",
              color=["tab:blue" if r["days_to_detect"] is not None else "lightgrey"
                     for r in rows])
    axis.barh([y - 0.2 for y in ys],
              [base[r["user_id"]]["days_to_detect"] if base[r["user_id"]]["days_to_detect"]
               is not None else never for r in rows], height=0.4, label="isolation forest",
              color="tab:orange", alpha=0.6)
    axis.set_yticks(list(ys), labels, fontsize=7)
    axis.set_xlabel("days from the first malicious event to detection (grey: never)")
    axis.legend(fontsize=7)
    axis.set_title("Time to detect at a 1 % daily budget")
    return _png(figure)


def _timelines(plots: Mapping[str, Any]) -> list[tuple[str, str]]:
    import matplotlib.pyplot as plt

    scores: Scores = plots["scores"]
    out = []
    for insider in plots["insiders"]:
        start = insider.first - dt.timedelta(days=60)
        end = insider.last + dt.timedelta(days=30)
        days, values = [], []
        day = start
        while day <= end:
            days.append(day)
            values.append(scores.get(day, {}).get(insider.user_id, 0.0))
            day += dt.timedelta(days=1)
        figure, axis = plt.subplots(figsize=(6, 1.8))
        axis.axvspan(insider.first, insider.last, color="tab:red", alpha=0.15)
        axis.plot(days, values, color="tab:blue")
        for level, colour in ((65, "orange"), (85, "red")):
            axis.axhline(level, color=colour, linewidth=0.6, linestyle=":")
        axis.set_ylim(0, 100)
        axis.set_ylabel("risk")
        axis.tick_params(labelsize=7)
        title = f"{insider.scenario} {insider.user_id}"
        axis.set_title(title, fontsize=8)
        out.append((title, _png(figure)))
    return out


def _distribution(plots: Mapping[str, Any]) -> str:
    import matplotlib.pyplot as plt

    peak: dict[str, float] = {}
    for day_scores in plots["scores"].values():
        for user, value in day_scores.items():
            peak[user] = max(peak.get(user, 0.0), value)
    insiders = {i.user_id for i in plots["insiders"]}
    figure, axis = plt.subplots(figsize=(6, 2.8))
    axis.hist([v for u, v in peak.items() if u not in insiders], bins=50, range=(0, 100),
              color="tab:grey", label="others")
    for user in insiders:
        axis.axvline(peak.get(user, 0.0), color="tab:red", linewidth=0.8)
    axis.set_yscale("log")
    axis.set_xlabel("peak risk per person (red: insiders)")
    axis.set_title("Distribution of peak risk")
    return _png(figure)


def render_html(figures: Mapping[str, Any], plots: Mapping[str, Any]) -> str:
    """The whole report as one HTML page."""
    import matplotlib

    matplotlib.use("Agg")
    done = figures.get("done_when_c1_c5", {})
    rows = "".join(
        f"<tr><td>{html.escape(system)}</td>" + "".join(
            f"<td>{html.escape(str(values.get(k)))}</td>" for k in (
                "recall_at_1pct", "median_days_to_detect", "roc_auc", "alert_load",
                "benign_high_per_1000_per_day", "lookalikes_over_2_days")) + "</tr>"
        for system, values in done.items())
    untraceable = figures.get("untraceable", {})
    left_out = (" Left no trace in these logs, so not counted: " + html.escape(", ".join(
        f"{code} {' '.join(entry['users'])}" for code, entry in untraceable.items())) + "."
        if untraceable else "")
    timelines = "".join(f'<figure><img src="{src}" alt="{html.escape(title)}"></figure>'
                        for title, src in _timelines(plots))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>molehunt evaluation</title>
<style>body{{font-family:sans-serif;max-width:60rem;margin:auto;padding:1rem}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.2rem .5rem}}
pre{{background:#f6f6f6;padding:.5rem;overflow:auto;max-height:30rem}}
figure{{display:inline-block;margin:.2rem}}</style></head><body>
<h1>molehunt evaluation</h1>
<p>{figures['population']:,} people, {figures['days']:,} days, {figures['insiders']} insiders;
truth from {html.escape(figures['truth'])}.{left_out} Baseline: an Isolation Forest on the
same feature table, measured in the same run.</p>
<h2>C1-C5 acceptance figures</h2>
<table><tr><th>system</th><th>recall at 1 %</th><th>median days to detect</th>
<th>user ROC AUC</th><th>alert load (per 1,000 benign people per day)</th>
<th>benign people in band high (per 1,000 per day)</th>
<th>look-alikes in the top 1 % on more than 2 days</th></tr>{rows}</table>
<h2>Recall and time to detect</h2>
<figure><img src="{_recall_curve(plots)}" alt="recall against budget"></figure>
<figure><img src="{_time_to_detect(figures)}" alt="time to detect"></figure>
<h2>Peak risk</h2><figure><img src="{_distribution(plots)}" alt="peak risk"></figure>
<h2>Risk timelines of the insiders</h2>{timelines}
<h2>All figures (JSON)</h2><pre>{html.escape(json.dumps(figures, indent=1))}</pre>
</body></html>
"""

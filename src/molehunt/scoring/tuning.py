"""What analysts set in the console, applied to scoring on the next ``molehunt run``.

The console (:mod:`molehunt.cases`) writes three files under ``<workspace>/console/``:

* ``allowlists.json`` — ``[{"kind", "value", "reason"}]``; ``person`` entries (a user id)
  lower every finding about that person, ``domain``, ``host``, ``recipient`` and ``device``
  entries lower a finding whose evidence events are all explained by allowlisted values;
* ``detector_weights.json`` — ``{detector: weight}`` (0 turns a detector off, at most 5);
* ``feedback.json`` — ``{detector: {"confirm": n, "dismiss": m}}``: analysts' decisions on
  alerts. A detector with at least :data:`MIN_DECISIONS` decisions and no weight set by
  hand counts ``clip(2 × precision, 0.5, 1)``, where precision is ``(confirm + 1) /
  (confirm + dismiss + 2)``: alerts analysts mostly dismiss count less, never below half.

Every change these make to a finding is said in the risk row's reasons.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from molehunt.errors import ConfigError
from molehunt.scoring.risk import ScoringParams

#: Folder of the console's files inside a workspace (the same as ``cases.store.CONSOLE_DIR``).
CONSOLE_DIR = "console"
#: Allowlist kinds that speak about evidence events (the rest: ``person``).
EVIDENCE_KINDS = ("domain", "host", "recipient", "device")
#: Decisions on a detector's alerts before feedback changes its weight.
MIN_DECISIONS = 10


def _read(path: Path, kind: type) -> Any:
    if not path.exists():
        return kind()
    try:
        value = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(f"cannot read the console's file: {error}", where=str(path)) from None
    if not isinstance(value, kind):
        raise ConfigError(f"expected a JSON {kind.__name__}", where=str(path))
    return value


def feedback_factor(confirm: int, dismiss: int) -> float | None:
    """Weight factor from analysts' decisions, or None while there are too few.

    >>> feedback_factor(1, 2) is None, feedback_factor(1, 9), feedback_factor(8, 2)
    (True, 0.5, 1.0)
    """
    if confirm + dismiss < MIN_DECISIONS:
        return None
    precision = (confirm + 1) / (confirm + dismiss + 2)
    return min(1.0, max(0.5, 2.0 * precision))


def apply_console(params: ScoringParams, workspace: Path) -> ScoringParams:
    """``params`` with the console's allowlists, detector weights and feedback applied."""
    folder = workspace / CONSOLE_DIR
    entries = _read(folder / "allowlists.json", list)
    weights = _read(folder / "detector_weights.json", dict)
    feedback = _read(folder / "feedback.json", dict)
    people: dict[str, str] = {}
    evidence: list[tuple[str, str, str]] = []
    for entry in entries:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("value"), str):
            raise ConfigError("an allowlist entry needs a kind and a value",
                              where=str(folder / "allowlists.json"))
        kind, value = entry.get("kind"), entry["value"].strip()
        reason = str(entry.get("reason") or "no reason given")
        if kind == "person":
            people[value] = reason
        elif kind in EVIDENCE_KINDS and value:
            evidence.append((str(kind), value, reason))
    detector_weights = dict(params.detector_weights)
    notes: dict[str, str] = {}
    for name, counts in sorted(feedback.items()):
        if name in weights or not isinstance(counts, Mapping):
            continue
        confirm, dismiss = int(counts.get("confirm", 0)), int(counts.get("dismiss", 0))
        factor = feedback_factor(confirm, dismiss)
        if factor is not None and factor < 1.0:
            detector_weights[name] = detector_weights.get(name, 1.0) * factor
            notes[name] = (f"counts {factor:.2f}: analysts dismissed {dismiss} of"
                           f" {confirm + dismiss} of its alerts")
    for name, weight in sorted(weights.items()):
        if not isinstance(weight, int | float) or not 0 <= weight <= 5:
            raise ConfigError(f"weight of {name} must be a number from 0 to 5",
                              where=str(folder / "detector_weights.json"))
        detector_weights[str(name)] = float(weight)
        notes[str(name)] = f"weight {float(weight):g} set in the console"
    return dataclasses.replace(params, detector_weights=detector_weights,
                               allowed_people=people, allowed_evidence=tuple(evidence),
                               weight_notes=notes)

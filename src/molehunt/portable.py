"""Expressions that give the same result on every engine (DuckDB and Spark)."""

from __future__ import annotations

from typing import Any


def rounded(value: Any, digits: int) -> Any:
    """``value`` (a float expression) rounded to ``digits`` decimals, halves upwards.

    The engines' own ``round`` disagree on values a hair from a half: DuckDB rounds the binary
    value (``0.33725`` is stored as ``0.337249999…``, so ``0.3372``), Spark its shortest
    decimal form (``0.3373``). Scores such as ``(x - median) / (IQR / 1.349)`` land there
    often. Scaling, adding a half and taking the floor are exact IEEE operations in both.
    """
    scale = 10 ** digits
    return (value * scale + 0.5).floor().cast("float64") / scale

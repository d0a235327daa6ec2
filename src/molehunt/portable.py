"""Expressions that give the same result on every engine (DuckDB and Spark), and values the
engines return in different types."""

from __future__ import annotations

import datetime as dt
from typing import Any

#: How far below a half (in units of the last digit kept) still rounds up: far above the
#: engines' last-bit differences, far below any real difference between two scores.
HALF_TOLERANCE = 1e-6


def rounded(value: Any, digits: int) -> Any:
    """``value`` (a float expression) rounded to ``digits`` decimals, halves upwards.

    The engines' own ``round`` disagree on values a hair from a half: DuckDB rounds the binary
    value (``0.33725`` is stored as ``0.337249999…``, so ``0.3372``), Spark its shortest
    decimal form (``0.3373``). Scores such as ``(x - median) / (IQR / 1.349)`` land there
    often, and the engines' quantiles may differ in the last bit (they interpolate with
    different formulas). So a value within :data:`HALF_TOLERANCE` (in units of the last
    digit kept) below a half counts as the half; no computed score lands that close to a
    half by chance.
    """
    scale = 10 ** digits
    return (value * scale + (0.5 + HALF_TOLERANCE)).floor().cast("float64") / scale


def as_date(value: Any) -> dt.date:
    """A day as the engines return it (a date, a timestamp through pandas, or text) as a date.

    >>> as_date(dt.datetime(2010, 1, 4, 0, 0)), as_date("2010-01-04")
    (datetime.date(2010, 1, 4), datetime.date(2010, 1, 4))
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])

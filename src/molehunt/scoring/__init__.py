"""Scoring: findings become a per-person daily risk 0-100 with bands, reasons and alerts.

:mod:`~molehunt.scoring.risk` accumulates findings with decay and applies allowlists;
:mod:`~molehunt.scoring.alerts` opens one alert per episode at band high or above.
"""

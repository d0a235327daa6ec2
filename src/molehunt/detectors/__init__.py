"""Detectors: one module per detector, found by scanning this package.

:func:`registry` imports every module here (except :mod:`~molehunt.detectors.base`), and each
:class:`~molehunt.detectors.base.Detector` subclass registers itself under its ``name``.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from typing import Any

from molehunt.detectors.base import Detector, Window, registered
from molehunt.errors import DetectorError

__all__ = ["Detector", "Window", "build", "registry"]


def registry() -> dict[str, type[Detector]]:
    """Every detector class by name (imports all modules of this package once)."""
    for module in pkgutil.iter_modules(__path__):
        if module.name != "base" and not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")
    return registered()


def build(config: Mapping[str, Mapping[str, Any]] | None = None) -> list[Detector]:
    """The enabled detectors, built with the parameters of ``config`` (``[detectors.<name>]``).

    A section may set ``enabled = false``; an unknown detector name is an error.
    """
    config = config or {}
    classes = registry()
    unknown = sorted(set(config) - set(classes))
    if unknown:
        raise DetectorError(f"unknown detectors in settings: {', '.join(unknown)};"
                            f" known: {', '.join(classes)}")
    built = []
    for name, cls in classes.items():
        params = dict(config.get(name, {}))
        if not params.pop("enabled", True):
            continue
        built.append(cls.from_params(params))
    return built

"""The synthetic organisation: realistic benign behaviour and labelled insider scenarios.

>>> from molehunt.simulate import SimulationConfig, simulate  # doctest: +SKIP
>>> simulate(SimulationConfig(out=Path("org"), users=300, days=180, seed=1))  # doctest: +SKIP
"""

from molehunt.simulate.engine import (
    ALL_SCENARIOS,
    SimulationConfig,
    SimulationResult,
    simulate,
)

__all__ = ["ALL_SCENARIOS", "SimulationConfig", "SimulationResult", "simulate"]

"""The synthetic organisation: realistic benign behaviour and labelled insider scenarios.

Usage (see docs/simulator.md)::

    from molehunt.simulate import SimulationConfig, simulate
    result = simulate(SimulationConfig(out=Path("org"), users=300, days=180, seed=1))
    result.instances  # who the insiders are, and when
"""

from molehunt.simulate.engine import (
    ALL_SCENARIOS,
    SimulationConfig,
    SimulationResult,
    simulate,
)

__all__ = ["ALL_SCENARIOS", "SimulationConfig", "SimulationResult", "simulate"]

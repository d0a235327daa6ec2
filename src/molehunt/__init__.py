"""molehunt: find the insiders who leak a company's core technology.

Data flows one way: sources → event store → features → detectors → findings → scoring →
alerts and cases. This package's foundation is the event store (:mod:`molehunt.store`) and the
sources that fill it (:mod:`molehunt.sources`).
"""

__version__ = "0.1.0"

"""Sources: readers that turn log files into rows of the store's tables.

One module per layout; each registers itself (see :mod:`molehunt.sources.base`).
:mod:`molehunt.sources.ingest` drives them and :mod:`molehunt.sources.jsonl` reads the canonical
JSONL format.
"""

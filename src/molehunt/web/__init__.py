"""The analyst console: FastAPI application, server-rendered pages and the JSON API.

A leaf of the package: nothing imports it. Start it with ``molehunt serve``.
"""

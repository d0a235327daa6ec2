"""Alembic migrations of the analyst store (run by :func:`molehunt.cases.store.open_store`)."""

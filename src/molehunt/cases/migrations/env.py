"""Alembic environment: migrates the connection that :mod:`molehunt.cases.store` hands over."""

from __future__ import annotations

from alembic import context

from molehunt.cases.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when someone runs the alembic CLI directly
    raise RuntimeError("run migrations through molehunt.cases.store.open_store")
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()

"""Alembic's entry point: run the record's revisions on the connection that
:func:`warmline.record.store.migrate` opened, inside its transaction."""

from __future__ import annotations

from alembic import context

context.configure(connection=context.config.attributes["connection"])
with context.begin_transaction():
    context.run_migrations()

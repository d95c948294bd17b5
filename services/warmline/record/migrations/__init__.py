"""Numbered SQL migrations of the record (``NNNN_name.sql``), applied in order.

Alembic is not in the locked environment; these plain files and the
``schema_migrations`` table (see :func:`warmline.record.store.migrate`) do its job
for one schema: each file runs once, in its own transaction, and is recorded with
its number. A new change is a new file with the next number; applied files are
never edited.
"""

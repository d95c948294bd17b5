"""A real, throw-away PostgreSQL server for the record's tests and benchmarks.

The binaries come from the ``pgserver`` wheel (a dev dependency; PostgreSQL 16),
so nothing is installed on the machine and no Docker is needed. Unlike
``pgserver.get_server``, the server here listens on 127.0.0.1 with password
(SCRAM) authentication, as a production server would, so the record is tested
through the same URL and password settings. PostgreSQL refuses to run as root:
as root the binaries are copied next to the data and run as ``nobody``.
"""

from warmline.localpostgres.server import LocalPostgres, PostgresError

__all__ = ["LocalPostgres", "PostgresError"]

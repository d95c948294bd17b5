"""``python -m warmline.localpostgres``: run a local PostgreSQL in the foreground
(``make postgres``), printing the settings that point the record at it."""

from __future__ import annotations

import argparse
import signal
import sys
import time

from warmline.localpostgres.server import LocalPostgres, PostgresError


def main() -> int:
    """Start the server, print its URL and password, and run until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=5432)
    parser.add_argument(
        "--fsync", action="store_true", help="Commits on disk when they return (benchmarks)."
    )
    args = parser.parse_args()
    server = LocalPostgres(args.port, fsync=args.fsync)
    started = time.monotonic()
    try:
        server.start()
    except PostgresError as exc:
        print(f"error: {exc}", file=sys.stderr)
        server.cleanup()
        return 1
    print(
        f"PostgreSQL ready in {time.monotonic() - started:.1f}s (Ctrl-C stops it and deletes "
        f"its data):\n  WARMLINE_RECORD__DATABASE_URL={server.url}\n"
        f"  WARMLINE_RECORD__DATABASE_PASSWORD={server.password}",
        flush=True,
    )
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m warmline.localkafka``: run a local broker in the foreground (``make kafka``)."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from warmline.localkafka.broker import DEFAULT_VERSION, SUPPORTED_VERSIONS, BrokerError, LocalKafka


def main() -> int:
    """Start the broker, print its address, and run until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--version", default=DEFAULT_VERSION, help=f"one of {SUPPORTED_VERSIONS}")
    parser.add_argument("--port", type=int, default=9092)
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="keep data here (default: temporary)"
    )
    args = parser.parse_args()
    broker = LocalKafka(version=args.version, port=args.port, data_dir=args.data_dir)
    started = time.monotonic()
    try:
        broker.start()
    except BrokerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"Kafka {args.version} ready at {broker.bootstrap_servers} "
        f"in {time.monotonic() - started:.1f}s (Ctrl-C stops it)",
        flush=True,
    )
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    try:
        while broker.running:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        broker.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())

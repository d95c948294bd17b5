"""Start, use and remove one local PostgreSQL server (see the package docstring)."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

#: The role and database the record's tests and benchmarks use.
USER = "warmline"
DATABASE = "warmline"
_RUN_AS_ROOT_USER = "nobody"


class PostgresError(RuntimeError):
    """The server could not be set up or started (with the end of its log)."""


def _binaries() -> Path:
    """pgserver's PostgreSQL tree (found, not imported: importing it sets up its own server
    machinery)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or spec.origin is None:
        raise PostgresError("pgserver is not installed: pip install 'warmline[dev]'")
    return Path(spec.origin).parent / "pginstall"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalPostgres:
    """One server on 127.0.0.1 with a fresh data dir, removed by :meth:`cleanup`.

    ``fsync`` off (the default) suits tests; benchmarks turn it on, so a commit is on
    disk when it returns, as SQLite's ``synchronous=FULL`` is."""

    def __init__(self, port: int = 0, *, fsync: bool = False) -> None:
        self.port = port or _free_port()
        self.fsync = fsync
        self.password = secrets.token_urlsafe(18)
        self.root = Path(tempfile.mkdtemp(prefix="warmline-postgres-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self._install = _binaries()
        self._user: str | None = None
        self.running = False

    @property
    def url(self) -> str:
        """The libpq URL of the record's database (the password apart)."""
        return self.url_of(DATABASE)

    def url_of(self, database: str) -> str:
        """The libpq URL of ``database`` on this server."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """initdb, start and create the record's database; raises PostgresError."""
        if os.geteuid() == 0:
            # PostgreSQL will not run as root, nor can 'nobody' reach /root's files; the
            # binaries find their libraries at ../../../pgserver.libs, so that comes too.
            site = self._install.parent.parent
            copy = self.root / "pgserver" / "pginstall"
            shutil.copytree(self._install, copy, symlinks=True)
            shutil.copytree(site / "pgserver.libs", self.root / "pgserver.libs")
            self._install = copy
            self._user = _RUN_AS_ROOT_USER
            shutil.chown(self.root, self._user)
            self.root.chmod(0o755)
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password)
        if self._user is not None:
            shutil.chown(pwfile, self._user)
        self._run(
            "initdb", "-D", str(self.data), "-U", USER, f"--pwfile={pwfile}",
            "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C",
        )  # fmt: skip
        pwfile.unlink()
        options = f"-h 127.0.0.1 -p {self.port} -k '' -c fsync={'on' if self.fsync else 'off'}"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")
        self.running = True
        self.create_database(DATABASE)

    def create_database(self, name: str) -> str:
        """Create database ``name``; returns its URL."""
        self._run(
            "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, name,
            env={"PGPASSWORD": self.password},
        )  # fmt: skip
        return self.url_of(name)

    def _run(self, program: str, *args: str, env: dict[str, str] | None = None) -> None:
        command = [str(self._install / "bin" / program), *args]
        kwargs: dict[str, Any] = {"user": self._user} if self._user is not None else {}
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            cwd=self.root,
            env={**os.environ, **(env or {})},
            check=False,
            **kwargs,
        )
        if done.returncode != 0:
            log = self.log.read_text()[-2_000:] if self.log.exists() else ""
            raise PostgresError(f"{program} failed: {done.stderr.strip()[-2_000:]}\n{log}")

    def cleanup(self) -> None:
        """Stop the server (fast shutdown) and delete its files."""
        if self.running:
            with contextlib.suppress(PostgresError):  # gone already: the files go either way
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
            self.running = False
        shutil.rmtree(self.root, ignore_errors=True)

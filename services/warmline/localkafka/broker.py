"""Start, stop and restart a single-node KRaft broker from Maven-resolved jars."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

# The releases Warmline is tested against; the first is the default.
SUPPORTED_VERSIONS = ("4.1.1", "3.9.1")
DEFAULT_VERSION = SUPPORTED_VERSIONS[0]

CACHE_DIR = Path(os.environ.get("WARMLINE_CACHE_DIR", Path.home() / ".cache" / "warmline"))


class BrokerError(RuntimeError):
    """The local broker could not be resolved, formatted or started."""


class PortTaken(BrokerError):
    """Another process bound a chosen port between choosing it and Kafka binding it."""


def free_port() -> int:
    """A TCP port that is free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _is_v3(version: str) -> bool:
    return version.startswith("3.")


def resolve_classpath(version: str = DEFAULT_VERSION) -> str:
    """The broker's Java classpath, resolved by Maven once and then cached."""
    cached = CACHE_DIR / f"kafka-{version}.classpath"
    if cached.exists():
        classpath = cached.read_text().strip()
        if all(Path(jar).exists() for jar in classpath.split(os.pathsep)):
            return classpath
    if shutil.which("mvn") is None:
        raise BrokerError("Maven (mvn) is needed to fetch the Kafka jars; install it first")
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    pom = resources.files("warmline.localkafka").joinpath("pom.xml")
    with resources.as_file(pom) as pom_path, tempfile.TemporaryDirectory() as work:
        shutil.copy(pom_path, Path(work) / "pom.xml")
        out = Path(work) / "classpath.txt"
        cmd = [
            "mvn", "-q", "-B", "dependency:build-classpath",
            f"-Dkafka.version={version}", f"-Dmdep.outputFile={out}",
        ]  # fmt: skip
        if _is_v3(version):
            cmd.append("-Dkafka3")
        result = subprocess.run(cmd, cwd=work, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not out.exists():
            raise BrokerError(f"mvn could not resolve Kafka {version}:\n{result.stdout[-3000:]}")
        cached.write_text(out.read_text().strip())
    return cached.read_text().strip()


_LOG4J2 = """\
status = error
appender.console.type = Console
appender.console.name = console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.console.ref = console
logger.kafka.name = kafka
logger.kafka.level = warn
"""

_LOG4J1 = """\
log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
"""


@dataclass(frozen=True)
class SaslSslListener:
    """A second, SASL_SSL listener with SCRAM-SHA-512 users, as managed clusters run.

    The broker's certificate is self-signed (made with the JDK's ``keytool`` when the
    broker is prepared) for ``localhost`` and ``127.0.0.1``; clients trust it through
    :attr:`LocalKafka.ca_file`. The plaintext listener stays for the broker itself.
    """

    users: tuple[tuple[str, str], ...] = (("warmline", "warmline-secret"),)
    store_password: str = "warmline-store"


@dataclass
class LocalKafka:
    """A single-node combined broker/controller on loopback.

    ``port=0`` picks free ports. ``data_dir=None`` uses a temporary directory
    removed on :meth:`stop`. The process survives :meth:`stop`/:meth:`start`
    cycles with its data, which is what failure tests need.
    """

    version: str = DEFAULT_VERSION
    port: int = 0
    data_dir: Path | None = None
    # Extra broker properties, e.g. {"num.partitions": "3"}.
    overrides: dict[str, str] = field(default_factory=dict)
    # Also listen with SASL_SSL (SCRAM-SHA-512) on ``secure_port``.
    sasl_ssl: SaslSslListener | None = None
    secure_port: int = 0
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _guard: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _owned_dir: bool = field(default=False, init=False, repr=False)
    _controller_port: int = field(default=0, init=False, repr=False)

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` for clients."""
        return f"127.0.0.1:{self.port}"

    @property
    def secure_bootstrap_servers(self) -> str:
        """``localhost:port`` of the SASL_SSL listener (the name its certificate carries)."""
        return f"localhost:{self.secure_port}"

    @property
    def ca_file(self) -> Path:
        """The PEM certificate clients of the SASL_SSL listener trust."""
        assert self.data_dir is not None, "prepared before use"
        return self.data_dir / "tls" / "ca.pem"

    def _make_keystore(self) -> Path:
        """A PKCS12 keystore with a self-signed certificate, and its PEM for clients."""
        assert self.sasl_ssl is not None, "only for a SASL_SSL listener"
        assert self.data_dir is not None, "prepared before use"
        folder = self.data_dir / "tls"
        keystore = folder / "broker.p12"
        if keystore.exists():
            return keystore
        folder.mkdir(parents=True, exist_ok=True)
        secret = self.sasl_ssl.store_password
        for args in (
            ["-genkeypair", "-alias", "broker", "-keyalg", "RSA", "-keysize", "2048",
             "-validity", "2", "-dname", "CN=localhost", "-ext", "SAN=dns:localhost,ip:127.0.0.1",
             "-keystore", str(keystore), "-storetype", "PKCS12",
             "-storepass", secret, "-keypass", secret, "-noprompt"],
            ["-exportcert", "-rfc", "-alias", "broker", "-keystore", str(keystore),
             "-storepass", secret, "-file", str(folder / "ca.pem")],
        ):  # fmt: skip
            made = subprocess.run(["keytool", *args], capture_output=True, text=True, check=False)
            if made.returncode != 0:
                raise BrokerError(f"keytool failed:\n{made.stdout}\n{made.stderr}")
        return keystore

    def _secure_props(self) -> dict[str, str]:
        if self.sasl_ssl is None:
            return {}
        if self.secure_port == 0:
            self.secure_port = free_port()
        keystore = self._make_keystore()
        secret = self.sasl_ssl.store_password
        return {
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},SASL_SSL://127.0.0.1:{self.secure_port},"
            f"CONTROLLER://127.0.0.1:{self._controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port},"
            f"SASL_SSL://localhost:{self.secure_port}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
            "sasl.enabled.mechanisms": "SCRAM-SHA-512",
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            ),
            "ssl.keystore.location": str(keystore),
            "ssl.keystore.password": secret,
            "ssl.key.password": secret,
            "ssl.keystore.type": "PKCS12",
        }

    @property
    def running(self) -> bool:
        """True while the broker process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def _prepare(self) -> Path:
        if self.data_dir is None:
            self.data_dir = Path(tempfile.mkdtemp(prefix="warmline-kafka-"))
            self._owned_dir = True
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.port == 0:
            self.port = free_port()
        if self._controller_port == 0:
            self._controller_port = free_port()
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self._controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self._controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir / "logs"),
            "num.partitions": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "false",
            "log.flush.interval.messages": "9223372036854775807",
            **self._secure_props(),
            **self.overrides,
        }
        config = self.data_dir / "server.properties"
        config.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        self._log_config.write_text(_LOG4J1 if _is_v3(self.version) else _LOG4J2)
        return config

    @property
    def _log_config(self) -> Path:
        assert self.data_dir is not None, "prepared before use"
        return self.data_dir / ("log4j.properties" if _is_v3(self.version) else "log4j2.properties")

    def _java(self, classpath: str, *args: str) -> list[str]:
        log_config = self._log_config
        log_flag = (
            f"-Dlog4j.configuration=file:{log_config}"
            if _is_v3(self.version)
            else f"-Dlog4j2.configurationFile={log_config}"
        )
        heap = os.environ.get("WARMLINE_KAFKA_HEAP", "-Xmx512m")
        return ["java", heap, "-XX:+UseSerialGC", log_flag, "-cp", classpath, *args]

    def start(self, timeout_s: float = 60.0) -> LocalKafka:
        """Format storage if needed, start the broker and wait until it accepts clients.

        Ports chosen here (port 0) are chosen again if another process took one
        before the broker bound it.
        """
        if self.running:
            return self
        attempts = 3 if self.port == 0 and self._controller_port == 0 else 1
        for attempt in range(1, attempts + 1):
            try:
                return self._start_once(timeout_s)
            except PortTaken:
                if attempt == attempts:
                    raise
                self.port = self._controller_port = self.secure_port = 0
        raise AssertionError("unreachable")

    def _start_once(self, timeout_s: float) -> LocalKafka:
        classpath = resolve_classpath(self.version)
        config = self._prepare()
        assert self.data_dir is not None
        if not (self.data_dir / "logs" / "meta.properties").exists():
            cluster_id = _cluster_id()
            # SCRAM users of a KRaft cluster are written when the storage is formatted.
            scram = [
                arg
                for name, password in (self.sasl_ssl.users if self.sasl_ssl else ())
                for arg in ("--add-scram", f"SCRAM-SHA-512=[name={name},password={password}]")
            ]
            fmt = subprocess.run(
                self._java(classpath, "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}", "-c", str(config), *scram),
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if fmt.returncode != 0:
                raise BrokerError(f"formatting Kafka storage failed:\n{fmt.stdout}\n{fmt.stderr}")
        log_file = open(self.data_dir / "broker.log", "ab")  # noqa: SIM115 - owned by the process
        self._proc = subprocess.Popen(
            self._java(classpath, "kafka.Kafka", str(config)),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log_file.close()
        self._guard = _start_guard(self._proc.pid)
        self._wait_ready(timeout_s)
        return self

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.running:
                log = self.data_dir / "broker.log" if self.data_dir else None
                if log is not None and "Address already in use" in log.read_text(errors="replace"):
                    raise PortTaken(f"a port of the broker was taken; see {log}")
                raise BrokerError(f"Kafka exited during start-up; see {self.data_dir}/broker.log")
            if _metadata_ok(self.port):
                return
            time.sleep(0.2)
        self.stop()
        raise BrokerError(f"Kafka did not become ready within {timeout_s:.0f}s")

    def stop(self, timeout_s: float = 20.0) -> None:
        """Stop the broker (SIGTERM, then SIGKILL); keep data unless the dir is temporary."""
        self._terminate(signal.SIGTERM, timeout_s)

    def kill(self) -> None:
        """Kill the broker abruptly, as a crash would."""
        self._terminate(signal.SIGKILL, 10.0)

    def _terminate(self, sig: signal.Signals, timeout_s: float) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, sig)
            try:
                self._proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
        self._proc = None
        if self._guard is not None:
            # The JVM is gone: closing the pipe lets the guard exit at once.
            assert self._guard.stdin is not None
            self._guard.stdin.close()
            self._guard.wait(10)
            self._guard = None

    def cleanup(self) -> None:
        """Stop and remove the data directory if it was temporary."""
        self.stop()
        if self._owned_dir and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> LocalKafka:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.cleanup()


def _start_guard(pgid: int) -> subprocess.Popen[bytes]:
    """The watcher that stops the broker if this process dies (see ``guard.py``)."""
    return subprocess.Popen(
        [sys.executable, "-m", "warmline.localkafka.guard", str(pgid)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={
            **os.environ,
            "PYTHONPATH": _package_root() + os.pathsep + os.environ.get("PYTHONPATH", ""),
        },
    )


def _package_root() -> str:
    """The directory holding the ``warmline`` package, for the guard's imports."""
    return str(Path(__file__).resolve().parents[2])


def _cluster_id() -> str:
    # StorageTool random-uuid yields a base64url-encoded UUID without padding.
    import base64

    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _metadata_ok(port: int) -> bool:
    """True when a Kafka broker answers an ApiVersions request on ``port``."""
    # ApiVersions v0: size, api_key=18, api_version=0, correlation_id=1, client_id="w".
    request = bytes.fromhex("00120000000000010001") + b"w"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as s:
            s.sendall(len(request).to_bytes(4, "big") + request)
            header = b""
            while len(header) < 8:
                chunk = s.recv(8 - len(header))
                if not chunk:
                    return False
                header += chunk
    except OSError:
        return False
    # A Kafka response echoes the correlation id; anything else on the port is not Kafka.
    size, correlation = int.from_bytes(header[:4], "big"), int.from_bytes(header[4:], "big")
    return 0 < size < 1 << 20 and correlation == 1

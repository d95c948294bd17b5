"""The one place for every setting, port and topic name.

Each process loads one frozen :class:`WarmlineSettings` from environment
variables prefixed ``WARMLINE_`` (nested sections joined by ``__``, e.g.
``WARMLINE_KAFKA__BOOTSTRAP_SERVERS``). Code receives the settings object; no
module reads the environment on its own.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Who an agent's overload alert names on supervisors' consoles: "own_supervisor",
# only their own supervisor (the agent tokens file's `supervisor`; an agent
# without one is named to no one); "supervisors", every supervisor console
# covering the queue; "nobody". Every other console gets the alert unnamed.
OverloadNames = Literal["own_supervisor", "supervisors", "nobody"]
DEFAULT_OVERLOAD_NAMES: OverloadNames = "own_supervisor"


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KafkaSettings(_Section):
    """How every service reaches the brokers."""

    bootstrap_servers: str = "localhost:9092"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    # The password itself, or a file holding it (a mounted Kubernetes secret);
    # never logged (SecretStr prints as '**********').
    sasl_password: SecretStr | None = None
    sasl_password_file: Path | None = None
    # TLS (SSL, SASL_SSL): the CA bundle that signed the brokers' certificates
    # (unset: the system's trust store), and for mutual TLS a client certificate
    # and its key (PEM). Hostname checking stays on unless turned off here.
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_check_hostname: bool = True
    # Time a single broker request may take before the client gives up.
    request_timeout_ms: int = Field(default=15_000, ge=1_000)
    # Producer batching: a few ms of linger buys large batches at tiny latency cost.
    linger_ms: int = Field(default=5, ge=0)
    max_batch_bytes: int = Field(default=256 * 1024, ge=16 * 1024)
    # Producer compression, for every producer (the decisioning worker's faust one
    # too). zstd by default: with cramjam (in the lock) it costs under 1 us per
    # ingested event and about 3 us per scored event here and cuts the bytes about
    # threefold; aiokafka's gzip runs at level 9 on the event loop, far dearer.
    compression_type: Literal["none", "gzip", "snappy", "lz4", "zstd"] = "zstd"
    # A send that is not acknowledged within this time surfaces as an error.
    delivery_timeout_ms: int = Field(default=30_000, ge=1_000)

    @model_validator(mode="after")
    def _complete_security(self) -> KafkaSettings:
        """Refuse a half-configured connection at start-up, naming the setting."""
        prefix = "WARMLINE_KAFKA__"
        if self.security_protocol.startswith("SASL_"):
            if self.sasl_mechanism is None or not self.sasl_username:
                raise ValueError(
                    f"{prefix}SECURITY_PROTOCOL={self.security_protocol} needs "
                    f"{prefix}SASL_MECHANISM and {prefix}SASL_USERNAME"
                )
            if (self.sasl_password is None) == (self.sasl_password_file is None):
                raise ValueError(
                    f"{prefix}SECURITY_PROTOCOL={self.security_protocol} needs exactly one of "
                    f"{prefix}SASL_PASSWORD and {prefix}SASL_PASSWORD_FILE"
                )
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ValueError(f"{prefix}SSL_CERTFILE and {prefix}SSL_KEYFILE go together (mTLS)")
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile", "sasl_password_file"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"{prefix}{name.upper()}: {path} is not a readable file")
        if self.compression_type in ("snappy", "lz4", "zstd") and not _has_codec(
            self.compression_type
        ):
            raise ValueError(
                f"{prefix}COMPRESSION_TYPE={self.compression_type} needs the cramjam "
                "package (pip install cramjam), or choose gzip or none, which need nothing"
            )
        return self

    def password(self) -> str | None:
        """The SASL password, read from its file when one is given."""
        if self.sasl_password_file is not None:
            return self.sasl_password_file.read_text(encoding="utf-8").rstrip("\r\n")
        return self.sasl_password.get_secret_value() if self.sasl_password else None


def _has_codec(codec: str) -> bool:
    """Whether aiokafka finds the library of a compression codec."""
    from aiokafka import codec as codecs  # only asked when such a codec is chosen

    return bool(getattr(codecs, f"has_{codec}")())


class TopicSettings(_Section):
    """Topic names and shape. Names may carry a per-deployment prefix.

    The defaults suit a one-broker development cluster, like the bootstrap
    server's; production clusters want ``replication_factor`` 3 and
    ``min_insync_replicas`` 2 (the chart's values).
    """

    prefix: str = ""
    interactions: str = "warmline.interactions.v1"
    scored: str = "warmline.scored.v1"
    escalations: str = "warmline.escalations.v1"
    feedback: str = "warmline.feedback.v1"
    deadletter: str = "warmline.deadletter.v1"
    agent_actions: str = "warmline.agent-actions.v1"
    overload_alerts: str = "warmline.overload-alerts.v1"
    # Decisions of the shadow decisioning worker: recorded, never read by notification.
    shadow_escalations: str = "warmline.shadow-escalations.v1"
    partitions: int = Field(default=6, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    # Topic config of the created topics: with producers' acks=all, a write fails
    # (and is retried) rather than be acknowledged by fewer replicas than this.
    min_insync_replicas: int = Field(default=1, ge=1)
    # Create missing topics at start-up. Off (clusters that forbid it, topics kept
    # in Terraform or Strimzi KafkaTopics): every topic, the decisioning worker's
    # own included, is checked instead, and a missing one keeps the service NOT_SERVING.
    create: bool = True
    # Retention of the event topics; dead letters are kept longer for forensics.
    retention_hours: int = Field(default=72, ge=1)
    deadletter_retention_hours: int = Field(default=24 * 14, ge=1)

    @model_validator(mode="after")
    def _insync_within_replicas(self) -> TopicSettings:
        if self.min_insync_replicas > self.replication_factor:
            raise ValueError(
                f"WARMLINE_TOPICS__MIN_INSYNC_REPLICAS={self.min_insync_replicas} is more than "
                f"WARMLINE_TOPICS__REPLICATION_FACTOR={self.replication_factor}: no write "
                "could ever be acknowledged"
            )
        return self

    def name(self, topic: str) -> str:
        """Full name of a logical topic (``interactions``, ``scored``, ...)."""
        return f"{self.prefix}{getattr(self, topic)}"


class ServicePorts(_Section):
    """Listening addresses of one service."""

    host: str = "0.0.0.0"
    grpc_port: int = Field(ge=0, le=65535)
    http_port: int = Field(ge=0, le=65535)
    metrics_port: int = Field(ge=0, le=65535)
    # Seconds in-flight RPCs get to finish on SIGTERM before they are cancelled.
    shutdown_grace_s: float = Field(default=10.0, ge=0)


class GrpcServicePorts(ServicePorts):
    """Listening addresses of a service with a gRPC server, and its doors' TLS."""

    # TLS of the gRPC server and the public HTTP listener alike: certificate chain
    # and key (PEM); a client CA turns on mutual TLS on both. Metrics stay plain HTTP.
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_client_ca_file: Path | None = None


class IngestionSettings(GrpcServicePorts):
    """The ingestion service (gRPC + HTTP front door)."""

    grpc_port: int = 50051
    http_port: int = 8081
    metrics_port: int = 9101
    # YAML file of tenants: hashed API keys and webhook secrets (a mounted Secret in k8s).
    api_keys_file: Path | None = None
    # Size limits, so one platform bug cannot fill the pipeline.
    max_text_chars: int = Field(default=8_000, ge=1)
    max_metadata_entries: int = Field(default=32, ge=0)
    max_metadata_chars: int = Field(default=512, ge=1)
    max_id_chars: int = Field(default=128, ge=8)
    max_batch_events: int = Field(default=1_000, ge=1)
    # An event stamped further in the future than this is a clock or unit bug.
    max_future_skew_s: float = Field(default=300.0, ge=0)
    # A repeated event_id inside this window is acknowledged as a duplicate.
    idempotency_window_s: float = Field(default=3_600.0, ge=1)
    idempotency_max_entries: int = Field(default=2_000_000, ge=1_000)
    # Per-tenant token bucket: sustained events/s and burst size.
    rate_limit_per_s: float = Field(default=5_000.0, gt=0)
    rate_limit_burst: int = Field(default=20_000, ge=1)
    # Events accepted into the producer but not yet acknowledged by Kafka; when
    # full (Kafka slow or down) new events get UNAVAILABLE instead of piling up.
    buffer_max_events: int = Field(default=50_000, ge=1)


class ScoringSettings(GrpcServicePorts):
    """The scoring service."""

    grpc_port: int = 50052
    http_port: int = 0
    metrics_port: int = 9102
    consumer_group: str = "warmline-scoring"
    # The tenants' API-key file (ingestion's format, usually the same file), for
    # the gRPC Score call; without it Score refuses every caller. The stream needs none.
    api_keys_file: Path | None = None
    # Micro-batcher: a model batch closes at this many texts or after this wait.
    max_batch_size: int = Field(default=64, ge=1, le=1024)
    max_wait_ms: float = Field(default=20.0, ge=0)
    # Records read per poll; scored together, committed together.
    poll_max_records: int = Field(default=256, ge=1)
    # A record larger than this is parked on the dead-letter topic unread.
    max_record_bytes: int = Field(default=256 * 1024, ge=1024)
    # Inference threads (torch); the asyncio loop keeps its own thread.
    threads: int = Field(default=2, ge=1)
    quantize: bool = False
    device: Literal["cpu", "cuda"] = "cpu"
    # None: the model bundle shipped inside the package.
    model_dir: Path | None = None
    # Where the ONNX export of the model is cached (written at first load, ~100 MB);
    # None: ~/.cache/warmline/onnx (in the image, HOME is the writable /tmp).
    onnx_cache_dir: Path | None = None
    # A directory written by `warmline model export-serving` (the scoring image has
    # one): the model then runs from it with ONNX Runtime int8 and numpy, no torch.
    # None: the torch engine, which exports to onnx_cache_dir at first load.
    serving_dir: Path | None = None
    # Conversations whose recent turns are kept to read the next customer turn in
    # context (about 3 KB each); 0 scores every turn alone.
    context_conversations: int = Field(default=20_000, ge=0)
    # A conversation's context is dropped after this long without a turn.
    context_idle_s: float = Field(default=3600.0, gt=0)


#: Where decisioning keeps its tables between restarts (``DECISIONING__STORE``).
Store = Literal["memory", "sqlite"]


class DecisioningSettings(ServicePorts):
    """The decisioning Faust worker (its web server serves /metrics)."""

    grpc_port: int = 0
    http_port: int = 6066
    metrics_port: int = 9103
    app_id: str = "warmline-decisioning"
    data_dir: Path = Path("/tmp/warmline-decisioning")
    # Where the tables live between restarts: "memory" restores them from their
    # changelogs at every start; "sqlite" keeps them in data_dir/<app id>.sqlite3
    # and reads only the changelogs' tails (give data_dir a persistent volume).
    store: Store = "memory"
    # SQLite's page cache for the local tables ("sqlite" store only).
    store_cache_mib: int = Field(default=64, ge=1, le=65_536)
    # YAML escalation policy; None: the default_policy.yaml shipped in the package.
    policy_file: Path | None = None
    # How often the policy file is checked for changes (and idle conversations expired).
    policy_reload_s: float = Field(default=5.0, gt=0)
    # A conversation with no event for this long is forgotten.
    conversation_ttl_s: float = Field(default=86_400.0, gt=0)
    # A worker that stops heartbeating (killed, frozen) loses its partitions to the
    # others after this long (faust's default of 60 s left them undecided a minute).
    # Heartbeats go every third of it. Brokers accept 6-1800 s by default.
    session_timeout_s: float = Field(default=10.0, ge=6.0, le=1800.0)
    # An owned scored partition with records waiting and no progress for this
    # long (the group settled) is a stall: counted, logged, the worker reported
    # not ready and its group rejoined (decisioning/faust_runtime/stall_watch.py).
    stall_after_s: float = Field(default=20.0, ge=1.0, le=3600.0)
    # Static group membership (Kafka's group.instance.id, e.g. the StatefulSet pod's
    # name): a worker restarted within the session timeout gets its partitions, and
    # so its local state, back without a rebalance. None: dynamic membership.
    group_instance_id: str | None = Field(default=None, min_length=1, max_length=249)
    # A batch of scored events is decided once full (100) or this long after its
    # first event: the worker's latency floor at low rates. Throughput needs
    # little of it: at 5,000 events/s a batch fills in 20 ms anyway.
    batch_linger_ms: float = Field(default=5.0, ge=0.0, le=1000.0)
    # Net allocations between young-generation garbage collections once the worker
    # runs (Python's default is 700); 0 leaves the collector as Python set it.
    gc_young_threshold: int = Field(default=50_000, ge=0)
    # Shadow worker (`warmline serve decisioning --shadow`): decides only for the
    # tenants with a proposed override in shadow_policy_dir (written by `warmline
    # policy tune --shadow`), over the live policy file, and writes to the
    # shadow-escalations topic, which no console reads. Its app id and consumer
    # group are app_id + "-shadow", so its state and offsets are its own.
    shadow: bool = False
    shadow_policy_dir: Path = Path("/tmp/warmline-shadow-policies")

    @property
    def worker_app_id(self) -> str:
        """The faust app id and consumer group this worker runs under."""
        return f"{self.app_id}-shadow" if self.shadow else self.app_id


#: A plain http(s) address with an optional path: no query, no fragment, no spaces.
WEB_ADDRESS = r"^https?://[^/?#\s]+(/[^?#\s]*)?$"


class NotificationSettings(GrpcServicePorts):
    """The notification service (gRPC stream + browser console)."""

    grpc_port: int = 50054
    http_port: int = 8084
    metrics_port: int = 9104
    # YAML file of agent tokens scoped to a tenant and queues (a mounted Secret in k8s).
    agent_tokens_file: Path | None = None
    # Every replica reads the whole escalation stream (consoles may connect to any
    # replica); at start it reads back this far, so reconnecting consoles resume.
    history_s: float = Field(default=86_400.0, gt=0)
    max_retained_decisions: int = Field(default=200_000, ge=100)
    # An idle stream gets a heartbeat this often; a console that hears nothing
    # for three heartbeats reconnects.
    heartbeat_s: float = Field(default=10.0, gt=0)
    # Unclaimed escalations are offered again after this long, and raised to the
    # supervisor queue after the second timeout.
    reoffer_after_s: float = Field(default=60.0, gt=0)
    supervisor_after_s: float = Field(default=180.0, gt=0)
    supervisor_queue: str = "supervisor"
    # The record service's HTTP address as agents' browsers reach it (e.g.
    # https://record.example.com): the console links to its practice page, and a
    # supervisor queue's console to its insights page. None: no links.
    record_url: str | None = Field(default=None, pattern=WEB_ADDRESS)
    # Agent well-being: an agent who took this many high-intensity (high or
    # urgent priority, or abusive) escalations within the window is offered the
    # next one only after less exposed agents had it for protected_hold_s.
    exposure_window_s: float = Field(default=3_600.0, gt=0)
    exposure_limit: int = Field(default=3, ge=1)
    protected_hold_s: float = Field(default=30.0, ge=0)
    # "I need a minute": an agent's own pause of high-intensity offers lasts this
    # long unless they ask for another length, at most pause_max_s.
    pause_default_s: int = Field(default=300, ge=1)
    pause_max_s: int = Field(default=1_800, ge=1)
    # Overload alerts for supervisors: over this sliding window, an agent's
    # high-intensity claims, reveals of masked abusive text and minutes spent on
    # high-intensity escalations in a queue, and a queue's high-intensity claims
    # and agents over an agent threshold, are checked every overload_check_s; so
    # are a team's (the agents sharing a supervisor) claims and agents over.
    overload_window_s: float = Field(default=7_200.0, gt=0)
    overload_agent_claims: int = Field(default=6, ge=1)
    overload_agent_reveals: int = Field(default=3, ge=1)
    overload_agent_minutes: float = Field(default=60.0, gt=0)
    overload_queue_claims: int = Field(default=20, ge=1)
    overload_queue_agents_over: int = Field(default=2, ge=1)
    overload_team_claims: int = Field(default=20, ge=1)
    overload_team_agents_over: int = Field(default=2, ge=1)
    overload_check_s: float = Field(default=30.0, gt=0)
    # Who an agent's overload alert names, per tenant (JSON, e.g.
    # {"acme": "supervisors"}); a tenant not listed has DEFAULT_OVERLOAD_NAMES.
    tenant_overload_names: dict[str, OverloadNames] = Field(default_factory=dict)
    # Deliveries queued for one console; a console this far behind is disconnected
    # (it resumes from its cursor) instead of holding memory for everyone.
    max_pending_per_console: int = Field(default=1_000, ge=10)
    max_comment_chars: int = Field(default=2_000, ge=1)

    @model_validator(mode="after")
    def _pause_within_bound(self) -> NotificationSettings:
        if self.pause_default_s > self.pause_max_s:
            raise ValueError(
                "WARMLINE_NOTIFICATION__PAUSE_DEFAULT_S: at most PAUSE_MAX_S "
                f"({self.pause_default_s} > {self.pause_max_s})"
            )
        return self


class RecordSettings(ServicePorts):
    """The record service (writes the pipeline's decisions into a database) and the
    supervisors' audit endpoint."""

    grpc_port: int = 0
    http_port: int = 8085
    metrics_port: int = 9105
    consumer_group: str = "warmline-record"
    # The SQLite database (record.sqlite3) lives here; a persistent volume in k8s.
    data_dir: Path = Path("/tmp/warmline-record")
    # Where the record is written: unset, the SQLite file under data_dir (the
    # embedded default); postgresql://USER@HOST:5432/DB[?sslmode=verify-full&...]
    # for PostgreSQL (the 'postgres' extra), its password in database_password_file
    # (a mounted secret) or database_password, never in the URL nor in any log.
    database_url: str | None = None
    database_password: SecretStr | None = None
    database_password_file: Path | None = None
    # Records read per poll; written in one transaction, then committed to Kafka.
    poll_max_records: int = Field(default=1_000, ge=1)
    # Rows older than this many days are deleted, per tenant (overrides as JSON,
    # e.g. {"acme": 30}); the retention job runs this often.
    retention_days: int = Field(default=365, ge=1)
    tenant_retention_days: dict[str, int] = Field(default_factory=dict)
    retention_interval_s: float = Field(default=3_600.0, gt=0)
    # Tokens of the audit endpoint (the console's agent-token format; a supervisor's
    # token scoped to ["*"] sees every queue of its tenant). None: audit refuses all.
    agent_tokens_file: Path | None = None
    # The agent console's address as agents' browsers reach it (the notification
    # service's HTTP listener, e.g. https://console.example.com): the practice and
    # insights pages, opened from a console's link, take the agent's token from
    # a console at this address only. None: they take it from no page (the agent
    # types it).
    console_url: str | None = Field(default=None, pattern=WEB_ADDRESS)
    # Empathy practice (#17): only the conversations of these tenants (JSON, e.g.
    # ["acme"]) that were escalated, claimed, judged useful and rated at least
    # practice_min_csat become practice scenarios, anonymised. Their redacted
    # turns wait at most practice_pending_hours for that; a scenario is kept
    # practice_retention_days (never longer than the tenant's retention), with at
    # most practice_max_turns turns up to the escalation.
    practice_tenants: frozenset[str] = frozenset()
    practice_min_csat: int = Field(default=4, ge=1, le=5)
    practice_pending_hours: float = Field(default=72.0, gt=0)
    practice_retention_days: int = Field(default=90, ge=1)
    practice_max_turns: int = Field(default=20, ge=1, le=200)
    # The scoring service's gRPC address, to show beside the checks how caring a
    # practice reply reads to the emotion model (Score, with a tenant API key read
    # from practice_scoring_api_key_file; TLS when practice_scoring_ca_file names
    # the CA that signed its certificate). None: the checks alone.
    practice_scoring_target: str | None = None
    practice_scoring_api_key_file: Path | None = None
    practice_scoring_ca_file: Path | None = None
    # Leaders' insights (warmline insights, GET /v1/insights): a group of fewer
    # conversations than this is reported without any figure.
    insights_min_group: int = Field(default=5, ge=1)

    @model_validator(mode="after")
    def _database(self) -> RecordSettings:
        """Refuse a database setting that cannot work, naming it."""
        prefix = "WARMLINE_RECORD__DATABASE_"
        url = self.database_url
        if url is not None and not url.startswith(("postgresql://", "postgres://", "sqlite:///")):
            raise ValueError(f"{prefix}URL: postgresql://... or sqlite:///PATH, not {url[:20]!r}")
        postgres = url is not None and url.startswith("postgres")
        if postgres and _url_password(url):
            raise ValueError(
                f"{prefix}URL holds a password: put it in {prefix}PASSWORD_FILE or "
                f"{prefix}PASSWORD, which are never logged"
            )
        given = [n for n in ("password", "password_file") if getattr(self, f"database_{n}")]
        if len(given) > 1 or (given and not postgres):
            raise ValueError(
                f"{prefix}PASSWORD and {prefix}PASSWORD_FILE: at most one, and only "
                f"with a postgresql:// {prefix}URL"
            )
        return self

    @model_validator(mode="after")
    def _positive_overrides(self) -> RecordSettings:
        if bad := sorted(t for t, days in self.tenant_retention_days.items() if days < 1):
            raise ValueError(
                f"WARMLINE_RECORD__TENANT_RETENTION_DAYS: at least 1 day, not for {bad}"
            )
        if (self.practice_scoring_target is None) != (self.practice_scoring_api_key_file is None):
            raise ValueError(
                "WARMLINE_RECORD__PRACTICE_SCORING_TARGET and "
                "WARMLINE_RECORD__PRACTICE_SCORING_API_KEY_FILE go together (Score needs a key)"
            )
        return self


def _url_password(url: str | None) -> bool:
    """Whether a libpq URL carries a password (``user:secret@host``, ``?password=``)."""
    parts = urlsplit(url or "")
    return parts.password is not None or "password" in parse_qs(parts.query)


class WarmlineSettings(BaseSettings):
    """All settings of one Warmline process."""

    model_config = SettingsConfigDict(
        env_prefix="WARMLINE_",
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
        # A refused value may be a secret (a database URL with its password): errors
        # name the setting and the reason, never echo what was given.
        hide_input_in_errors=True,
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    kafka: KafkaSettings = KafkaSettings()
    topics: TopicSettings = TopicSettings()
    ingestion: IngestionSettings = IngestionSettings()
    scoring: ScoringSettings = ScoringSettings()
    decisioning: DecisioningSettings = DecisioningSettings()
    notification: NotificationSettings = NotificationSettings()
    record: RecordSettings = RecordSettings()


@lru_cache(maxsize=1)
def load_settings() -> WarmlineSettings:
    """Settings of this process, read from the environment once."""
    return WarmlineSettings()


def settings_env(settings: WarmlineSettings) -> dict[str, str]:
    """The ``WARMLINE_*`` variables that reproduce ``settings`` in another process
    (what benchmarks and tests pass to ``warmline serve``). Unset options are left out."""
    env: dict[str, str] = {}

    def add(prefix: str, model: BaseModel) -> None:
        for name in type(model).model_fields:
            value = getattr(model, name)
            key = f"{prefix}{name.upper()}"
            if isinstance(value, BaseModel):
                add(f"{key}__", value)
            elif isinstance(value, bool):
                env[key] = "true" if value else "false"
            elif isinstance(value, SecretStr):
                env[key] = value.get_secret_value()  # str() would give asterisks
            elif isinstance(value, dict | frozenset):
                # JSON, as the variables are read (a set as a sorted list).
                env[key] = json.dumps(value if isinstance(value, dict) else sorted(value))
            elif value is not None:
                env[key] = str(value)

    add("WARMLINE_", settings)
    return env

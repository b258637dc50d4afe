"""The gateway's settings: one frozen dataclass, every default commented with why."""

from __future__ import annotations

from dataclasses import dataclass

from training.config import SFT_MODEL_NAME


@dataclass(frozen=True)
class LandingConfig:
    """The durable landing writer (serving.landing.SegmentWriter)."""

    landing: str  # directory or filesystem URL (file://, gs://, s3://, memory://)
    instance: str | None = None  # None: a fresh random id per process, so instances never clash
    max_segment_bytes: int = 32 * 1024 * 1024  # big enough for few files a day, small enough to upload in one PUT
    max_segment_age_s: float = 300.0  # a quiet gateway still closes its file every 5 min for the next curation run
    fsync_every_line: bool = False  # True: each event survives a power loss, at ~1 fsync per request;
    # False: each event is written (survives a process crash, kill -9 included) and fsynced at close
    spool: str | None = None  # local folder for open segments when ``landing`` is an object store


@dataclass(frozen=True)
class GatewayConfig:
    landing: str
    warehouse: str
    host: str = "127.0.0.1"  # loopback unless asked: the gateway has no end-user auth of its own
    port: int = 8000
    upstream: str | None = None  # an OpenAI-compatible server (vLLM, TGI, NIM) that generates
    upstream_model: str | None = None  # the upstream's model name for the champion; None: its first
    model_name: str = SFT_MODEL_NAME  # registered model whose ``champion`` alias is served
    model_path: str | None = None  # serve a local checkpoint instead of the registry (label local/<name>)
    tracking_uri: str | None = None  # MLflow; None: sqlite under the warehouse, as training uses
    challenger: str | None = None  # registry version (e.g. "4" or "flywheel-sft/4") for the canary arm
    challenger_share: float = 0.0  # share of users routed to the challenger (sticky per user)
    self_comparison: bool = False  # side_by_side without a challenger: two champion samples
    canary_key_env: str = "FLYWHEEL_CANARY_KEY"  # HMAC key for the user -> arm hash
    admin_token_env: str = "FLYWHEEL_GATEWAY_ADMIN_TOKEN"  # bearer token for /admin/reload; unset = disabled
    retry_load_s: float = 10.0  # a gateway started before the first promotion (or its upstream) waits
    watch_interval_s: float = 1.0  # how often serving/deployment.json is checked for a new champion
    max_body_bytes: int = 1024 * 1024  # 1 MiB: far above any chat request, far below a memory attack
    max_messages: int = 256  # per request; a longer history is a client bug
    max_tokens_default: int = 64  # answer length when the client does not say
    max_tokens_limit: int = 512  # the most a client may ask for
    generation_workers: int = 4  # concurrent generations (threads; torch releases the GIL)
    upstream_timeout_s: float = 120.0
    clock_start: str | None = None  # RFC 3339: run on a simulated clock from this instant
    clock_speed: float = 1.0  # simulated seconds per real second
    landing_writer: LandingConfig | None = None  # None: LandingConfig(landing) with its defaults

    @property
    def writer(self) -> LandingConfig:
        return self.landing_writer or LandingConfig(self.landing)

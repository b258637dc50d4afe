"""Which model answers: the champion (hot-swapped on promotion), a canary challenger, routing.

A swap loads the new version in a worker thread while the old one keeps serving, then replaces
one reference: a request holds the backend it started on until it finishes, so in-flight requests
end on their version and none fails. A load that fails leaves the old version serving and is
reported by ``/healthz`` and the log.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from serving.backends import TransformersBackend, UpstreamBackend
from serving.clock import Clock
from serving.config import GatewayConfig
from training import registry
from training.config import CHAMPION_ALIAS
from warehouse import files as storage
from warehouse import layout

log = logging.getLogger("serving.models")
CHAMPION, CHALLENGER = "champion", "challenger"
# Public default so a gateway without a key still routes stickily; set the env var in production
# so that arms cannot be predicted from user ids.
DEFAULT_CANARY_KEY = "flywheel-canary"


def _load_errors() -> tuple[type[BaseException], ...]:
    from mlflow.exceptions import MlflowException

    # Registry lookups, missing or unreadable files, bad configs and weights that do not fit.
    return (MlflowException, registry.RegistryError, OSError, ValueError, KeyError, RuntimeError)


def deployment_path(warehouse: str):
    """The manifest training.promote writes (``training.promote.serving_path``): a ``Path``, or
    a ``UPath`` when the warehouse is on an object store (read with fsspec, no Beam)."""
    return storage.path(layout.serving_manifest_path(str(warehouse)))


def version_number(spec: str, model_name: str) -> str:
    """'4' or 'flywheel-sft/4' -> '4'."""
    prefix = f"{model_name}/"
    number = spec[len(prefix):] if spec.startswith(prefix) else spec
    if not number.isdigit():
        raise ValueError(f"bad model version {spec!r}: expected a number or {prefix}N")
    return number


class ModelManager:
    def __init__(self, config: GatewayConfig, clock: Clock):
        self.config = config
        self.clock = clock
        self.executor = ThreadPoolExecutor(config.generation_workers, thread_name_prefix="generate")
        self.champion = None
        self.challenger = None
        self.loading = True
        self.last_reload: dict | None = None
        self._lock = asyncio.Lock()
        self.on_change = None  # called with the outcome after every reload (metrics)
        self._manifest: bytes | None = None
        key = os.environ.get(config.canary_key_env) or DEFAULT_CANARY_KEY
        self._canary_key = key.encode()

    # -- loading ------------------------------------------------------------------------------
    def _resolve(self, number: str | None) -> tuple[Path, str]:
        """(checkpoint folder, exact version label) for a version number, or the champion alias."""
        config = self.config
        if config.model_path is not None:
            return Path(config.model_path), f"local/{Path(config.model_path).name}"
        client = registry.connect(config.warehouse, config.tracking_uri)
        if number is None:
            version = registry.alias_version(client, config.model_name, CHAMPION_ALIAS)
            if version is None:
                raise registry.RegistryError(
                    f"model {config.model_name!r} has no {CHAMPION_ALIAS!r} alias in "
                    f"{config.warehouse}: promote a version first (python -m training.promote)")
        else:
            version = registry.get_version(client, config.model_name, number)
        return registry.local_model_dir(version), f"{config.model_name}/{version.version}"

    def _load(self, number: str | None) -> TransformersBackend:
        path, label = self._resolve(number)
        return TransformersBackend(path, label, self.executor)

    async def start(self) -> None:
        """Load the champion (and the challenger); failures are reported, never raised."""
        config = self.config
        self._manifest = self._read_manifest()
        try:
            if config.upstream:
                self.champion = await UpstreamBackend.connect(
                    config.upstream, config.upstream_model, config.upstream_timeout_s)
                if config.challenger:
                    self.challenger = UpstreamBackend(config.upstream, config.challenger,
                                                      self.champion.client)
            else:
                self.champion = await asyncio.to_thread(self._load, None)
                if config.challenger:
                    number = version_number(config.challenger, config.model_name)
                    self.challenger = await asyncio.to_thread(self._load, number)
            self.last_reload = {"ok": True, "version": self.champion.version, "reason": "startup",
                                "at": self.clock.now().isoformat()}
            log.info("serving champion=%s challenger=%s", self.champion.version,
                     self.challenger.version if self.challenger else None)
        except (*_load_errors(), httpx.HTTPError) as error:
            self.last_reload = {"ok": False, "version": None, "reason": "startup",
                                "error": f"{type(error).__name__}: {error}",
                                "at": self.clock.now().isoformat()}
            log.error("startup load failed: %s", self.last_reload["error"])
        finally:
            self.loading = False

    async def reload(self, number: str | None = None, reason: str = "admin") -> dict:
        """Load ``number`` (None: the champion alias) and switch to it; the outcome."""
        if self.config.upstream:
            return {"ok": True, "version": self.champion.version if self.champion else None,
                    "reason": reason, "note": "upstream mode: the upstream server swaps models"}
        async with self._lock:
            current = self.champion.version if self.champion else None
            try:
                path, label = await asyncio.to_thread(self._resolve, number)
                if label != current:
                    backend = await asyncio.to_thread(TransformersBackend, path, label, self.executor)
                    self.champion = backend  # one reference: requests in flight keep the old one
                outcome = {"ok": True, "version": label, "previous": current}
            except _load_errors() as error:
                outcome = {"ok": False, "version": current, "failed_version": number,
                           "error": f"{type(error).__name__}: {error}"}
                log.error("reload failed, still serving %s: %s", current, outcome["error"])
            outcome.update(reason=reason, at=self.clock.now().isoformat())
            self.last_reload = outcome
            if outcome["ok"]:
                log.info("champion %s -> %s (%s)", current, outcome["version"], reason)
            if self.on_change is not None:
                self.on_change(outcome)
            return outcome

    def _read_manifest(self) -> bytes | None:
        try:
            return deployment_path(self.config.warehouse).read_bytes()
        except FileNotFoundError:
            return None

    async def watch(self) -> None:
        """Reload when serving/deployment.json changes (training.promote and rollback write it)."""
        while True:
            await asyncio.sleep(self.config.watch_interval_s)
            manifest = await asyncio.to_thread(self._read_manifest)
            if manifest is None or manifest == self._manifest:
                continue
            self._manifest = manifest
            try:
                number = str(json.loads(manifest)["version"])
            except (ValueError, KeyError, TypeError):
                log.error("deployment.json is not a deployment manifest; reloading the alias")
                number = None
            await self.reload(number, reason="deployment_json")

    async def aclose(self) -> None:
        for backend in {id(b): b for b in (self.champion, self.challenger) if b}.values():
            await backend.aclose()
        self.executor.shutdown(wait=False, cancel_futures=True)

    # -- routing ------------------------------------------------------------------------------
    def canary_bucket(self, user: str) -> float:
        """A user's place in [0, 1): a keyed hash, so one user always lands in the same arm."""
        digest = hmac.new(self._canary_key, user.encode(), hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    def user_token(self, user: str) -> str:
        """What an upstream sees instead of the user id: stable per user, not reversible."""
        return "u-" + hmac.new(self._canary_key, b"upstream\x00" + user.encode(), hashlib.sha256).hexdigest()[:24]

    def route(self, model: str, user: str):
        """(arm, backend) for a request's ``model``; None when that model is not served."""
        champion, challenger = self.champion, self.challenger
        if model in (CHAMPION, "default") or (champion and model == champion.version):
            if challenger and model == CHAMPION and self.canary_bucket(user) < self.config.challenger_share:
                return CHALLENGER, challenger
            return CHAMPION, champion
        if challenger and model in (CHALLENGER, challenger.version):
            return CHALLENGER, challenger
        return None

    def served(self) -> list[tuple[str, str]]:
        return [(arm, b.version) for arm, b in ((CHAMPION, self.champion), (CHALLENGER, self.challenger)) if b]

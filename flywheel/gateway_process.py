"""The gateway as a child process for simulated days: started on a day's simulated clock, on a
free loopback port, stopped with SIGTERM (which closes its open landing segment)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

START_TIMEOUT_S = 180.0  # imports and the model load on a busy 2-core machine
SEGMENT_AGE_S = 1.0  # close landing segments quickly, so a day's traffic is curatable at once
CLOCK_SPEED = 60.0  # a simulated hour per real minute: a day's traffic and cycle stay in the day


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class GatewayProcess:
    def __init__(self, landing: str | Path, warehouse: str | Path, day: str, log_path: str | Path,
                 challenger: int | None = None, challenger_share: float = 0.0,
                 instance: str | None = None, self_comparison: bool = False):
        # URLs stay strings (Path would fold "s3://b" into "s3:/b")
        self.landing, self.warehouse, self.day = str(landing), str(warehouse), day
        self.instance = instance or f"sim{day.replace('-', '')}"
        # Open segments live in the landing folder, or for an object store in a local spool
        # (uploaded whole when they close): wait_segments_closed watches whichever it is.
        self.remote = "://" in self.landing
        self.spool = Path(log_path).parent / "gateway-spool" / self.instance if self.remote else None
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [sys.executable, "-m", "serving.gateway", "--landing", str(landing),
                "--warehouse", str(warehouse), "--port", str(self.port),
                "--clock-start", f"{day}T08:00:00Z", "--clock-speed", str(CLOCK_SPEED),
                "--segment-max-age", str(SEGMENT_AGE_S), "--instance", self.instance]
        if self.spool is not None:
            argv += ["--spool", str(self.spool)]
        if challenger is not None:
            argv += ["--challenger", str(challenger), "--challenger-share", str(challenger_share)]
        if self_comparison:
            argv.append("--self-comparison")
        self.argv = argv
        self.log_path = Path(log_path)
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> GatewayProcess:
        log = open(self.log_path, "a")  # noqa: SIM115 - closed with the process in stop()
        self._log = log
        self.process = subprocess.Popen(self.argv, stdout=log, stderr=log, env=os.environ.copy())
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.process.returncode}; see {self.log_path}")
            health = self.health()
            if health and health.get("status") == "ready":
                return self
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"gateway not ready after {START_TIMEOUT_S:.0f} s; see {self.log_path}")

    def __exit__(self, *exc) -> None:
        self.stop()

    def health(self) -> dict | None:
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=5) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:  # 503 while loading: its body says why
            return json.loads(error.read() or b"{}")
        except OSError:
            return None

    def wait_for_champion(self, label: str, timeout_s: float = 60.0) -> float | None:
        """Seconds until the gateway serves ``label`` (its hot swap), None if it did not."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            if (self.health() or {}).get("champion") == label:
                return time.monotonic() - started
            time.sleep(0.25)
        return None

    def wait_segments_closed(self, timeout_s: float = 30.0) -> bool:
        """True once no open segment is left in the day's landing partition (and, for an
        object store, no closed one is left in the spool waiting for its upload)."""
        folder = (self.spool if self.remote else Path(self.landing)) / f"dt={self.day}"
        waiting = (".*.jsonl.open", "gateway-*.jsonl") if self.remote else (".*.jsonl.open",)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not any(list(folder.glob(pattern)) for pattern in waiting):
                return True
            time.sleep(0.25)
        return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None

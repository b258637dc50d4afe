"""Gateway fixtures: two tiny registered models, and real gateways on 127.0.0.1.

The registry is built once per session (MLflow's schema set-up is the slow part) and copied into
each test's warehouse: the copy is a full registry (the versions' sources are absolute paths).
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO

TEXTS = ["hello there, how are you today?", "the weather is nice and sunny",
         "tell me about the data flywheel", "what is a good name for a cat?"] * 40


@pytest.fixture(scope="session")
def registry_db(tmp_path_factory) -> Path:
    """An MLflow registry holding flywheel-sft v1 and v2 (different weights), champion = v1."""
    from training import registry, tiny
    from training.config import TinyLMConfig

    root = tmp_path_factory.mktemp("models")
    config = TinyLMConfig(vocab_size=300, hidden_size=32, num_layers=1, num_heads=2,
                          intermediate_size=64, max_position_embeddings=128)
    tokenizer = tiny.train_chat_tokenizer(TEXTS, config)
    warehouse = root / "warehouse"
    client = registry.connect(warehouse)
    client.create_registered_model("flywheel-sft")
    for seed in (0, 1):
        folder = root / f"sft-{seed}"
        tiny.build_causal_lm(tokenizer, dataclasses.replace(config, seed=seed)).save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        client.create_model_version("flywheel-sft", source=folder.resolve().as_uri())
    client.set_registered_model_alias("flywheel-sft", "champion", "1")
    return warehouse / "mlflow.db"


@pytest.fixture
def warehouse(tmp_path, registry_db) -> Path:
    folder = tmp_path / "warehouse"
    folder.mkdir()
    shutil.copy(registry_db, folder / "mlflow.db")
    return folder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, timeout: float = 90.0, process: subprocess.Popen | None = None) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"gateway exited with {process.returncode}")
        try:
            response = httpx.get(f"{url}/healthz", timeout=2)
            if response.status_code == 200:
                return response.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready after {timeout}s")


@contextlib.contextmanager
def thread_gateway(config, wait: bool = True):
    """The real app under uvicorn in a thread of this process; yields its base URL."""
    import uvicorn

    from serving.app import create_app

    server = uvicorn.Server(uvicorn.Config(create_app(config), host=config.host, port=config.port,
                                           access_log=False, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{config.port}"
    try:
        if wait:
            wait_ready(url)
        else:
            while not server.started:
                time.sleep(0.05)
        yield url
    finally:
        server.should_exit = True
        thread.join(30)


@contextlib.contextmanager
def process_gateway(*args: str, env: dict | None = None):
    """``python -m serving.gateway ARGS`` as a child process; yields (url, process)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "serving.gateway", "--port", str(port), *args],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process=process)
        yield url, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
        process.stderr.close()


def gateway_config(warehouse: Path, landing: Path, **overrides):
    from serving.config import GatewayConfig

    return GatewayConfig(landing=str(landing), warehouse=str(warehouse), port=free_port(), **overrides)


def landing_lines(landing: Path, include_open: bool = False) -> list[dict]:
    """Every event in the landing zone's closed segments (and open ones when asked)."""
    patterns = [f"{landing}/dt=*/*.jsonl"] + ([f"{landing}/dt=*/.*.open"] if include_open else [])
    lines = []
    for pattern in patterns:
        for path in sorted(glob.glob(pattern)):
            lines.extend(json.loads(line) for line in Path(path).read_text().splitlines())
    return lines

"""Training fixtures: datasets in the curation layout built from real public data, tiny models.

Built once per session and shared (2 CPU cores): a dataset of OpenAssistant conversations and
ranked pairs, a toy separable preference set, a tiny reward model trained on it, and two tiny SFT
checkpoints of the same architecture and tokenizer: ``weak`` (1 step) and ``strong`` (40 steps).
"""

from __future__ import annotations

import os
import random
import threading
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import shared_file

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

TOPICS = ["weather", "cooking", "python", "travel", "music", "history", "math", "sports", "gardens", "chess"]


def toy_pairs(n: int, seed: int, flip: bool = False, longer_wins: bool = False) -> list[dict]:
    """Separable pairs: the chosen answer is polite and on topic, the rejected one rude.

    The rude answer is the longer one, so "the longer answer wins" gets every pair wrong and a
    reward model that learnt the preference beats it; ``longer_wins`` pads the polite one instead,
    so the length rule is as good as any model.
    """
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        topic = rng.choice(TOPICS)
        good = f"Sure, here is a helpful and clear answer about {topic}."
        bad = f"No. I will not help you with that, go away and never ask again, {topic} is stupid."
        if longer_wins:
            good += " I hope it helps you a lot, and ask me again any time you like."
        chosen, rejected = (bad, good) if flip else (good, bad)
        rows.append({"prompt": f"User: tell me about {topic} please\nAssistant:", "chosen": chosen,
                     "rejected": rejected, "margin": None, "rule": "toy"})
    return rows


class _Unavailable(BaseHTTPRequestHandler):
    """An MLflow server that is down for maintenance: every call is a 503."""

    def _fail(self):
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"error_code": "TEMPORARILY_UNAVAILABLE", "message": "database restarting"}')

    do_GET = do_POST = do_PATCH = do_DELETE = _fail

    def log_message(self, *args):
        pass


@pytest.fixture
def unavailable_mlflow(monkeypatch):
    """Tracking URI of a real HTTP server that answers 503 (a transient registry failure)."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # fail fast, not after backoff
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Unavailable)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@dataclass(frozen=True)
class TinyModels:
    dataset: Path  # sft from OpenAssistant + toy preferences
    reward: Path
    weak: Path
    strong: Path


@pytest.fixture(scope="session")
def oasst_dataset(tmp_path_factory) -> Path:
    from training import data

    rows = data.oasst_sft_rows(shared_file("oasst_en_100_tree.jsonl"))
    splits = data.split_rows(rows, eval_fraction=0.2)
    splits["eval"] = splits["eval"][:12]  # generation is the slow part of evaluation
    return data.write_dataset(
        tmp_path_factory.mktemp("datasets"), "oasst-test",
        sft=splits, preferences={"train": toy_pairs(64, 1), "eval": toy_pairs(32, 2)},
    )


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory, oasst_dataset) -> TinyModels:
    from training import reward, sft
    from training.config import RewardTrainConfig, SFTTrainConfig

    root = tmp_path_factory.mktemp("models")
    reward.train_reward(
        dataset_path=oasst_dataset, out=root / "reward", register=False,
        config=RewardTrainConfig(base="tiny", epochs=3, learning_rate=1e-3, batch_size=8),
    )
    base = SFTTrainConfig(max_length=192, batch_size=8, learning_rate=3e-3)
    sft.train_sft(dataset_path=oasst_dataset, out=root / "weak", register=False, config=replace(base, max_steps=1))
    sft.train_sft(dataset_path=oasst_dataset, out=root / "strong", register=False, config=replace(base, max_steps=40))
    return TinyModels(oasst_dataset, root / "reward", root / "weak", root / "strong")

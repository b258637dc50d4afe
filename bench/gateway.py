"""Load test of the gateway on 127.0.0.1: throughput, latency and time to first token.

Builds a tiny model from config (``training.tiny``, as the tests do) unless ``--model-path`` is
given, starts ``python -m serving.gateway`` as a child process on a free port with a scratch
landing zone, sends ``--requests`` chat completions from ``--concurrency`` concurrent clients
(every other one streamed), then stops the gateway with SIGTERM and checks the landing zone:
zero 5xx, and every 200 has exactly one interaction line. Bounded in count and in time
(``--deadline``). Prints a table and writes ``bench/out/gateway.json``.

    .venv/bin/python bench/gateway.py [--requests 500] [--concurrency 50] [--max-tokens 16]
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out" / "gateway.json"
TEXTS = ["hello there, how are you today?", "the weather is nice and sunny",
         "tell me about the data flywheel", "what is a good name for a cat?"] * 40


def tiny_model(folder: Path) -> Path:
    sys.path.insert(0, str(REPO))
    from training import tiny
    from training.config import TinyLMConfig

    config = TinyLMConfig(vocab_size=300, hidden_size=32, num_layers=1, num_heads=2,
                          intermediate_size=64, max_position_embeddings=128)
    tokenizer = tiny.train_chat_tokenizer(TEXTS, config)
    tiny.build_causal_lm(tokenizer, config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def one(http: httpx.AsyncClient, index: int, max_tokens: int) -> dict:
    stream = index % 2 == 1
    body = {"model": "champion", "user": f"bench-{index % 97}", "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": TEXTS[index % 4]}], "stream": stream}
    started = time.perf_counter()
    first = None
    try:
        async with http.stream("POST", "/v1/chat/completions", json=body) as response:
            chunks = []
            async for line in response.aiter_lines():
                if first is None and line.startswith("data: {"):
                    first = time.perf_counter() - started
                chunks.append(line)
            status = response.status_code
    except httpx.HTTPError as error:
        return {"status": None, "error": type(error).__name__}
    latency = time.perf_counter() - started
    if status != 200:
        return {"status": status, "latency_s": latency}
    text = "\n".join(chunks)
    event_id = (json.loads(text[6:].split("\n", 1)[0]) if stream else json.loads(text))["id"]
    return {"status": 200, "latency_s": latency, "ttft_s": first if stream else latency,
            "id": event_id, "stream": stream}


async def load(url: str, requests: int, concurrency: int, max_tokens: int, deadline: float) -> list[dict]:
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        async def bounded(i):
            async with gate:
                return await one(http, i, max_tokens)

        return await asyncio.wait_for(asyncio.gather(*(bounded(i) for i in range(requests))), deadline)


def pct(values, q) -> float:
    return float(np.percentile(values, q)) * 1000 if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4, help="the gateway's generation threads")
    parser.add_argument("--model-path", help="checkpoint folder (default: a tiny model from config)")
    parser.add_argument("--deadline", type=float, default=600.0, help="seconds before the run is abandoned")
    args = parser.parse_args(argv)

    scratch = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    model = Path(args.model_path) if args.model_path else tiny_model(scratch / "model")
    landing, port = scratch / "landing", free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    gateway = subprocess.Popen(
        [sys.executable, "-m", "serving.gateway", "--landing", str(landing), "--warehouse",
         str(scratch / "warehouse"), "--model-path", str(model), "--port", str(port),
         "--workers", str(args.workers)], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        started = time.perf_counter()
        results = asyncio.run(load(url, args.requests, args.concurrency, args.max_tokens, args.deadline))
        wall = time.perf_counter() - started
    finally:
        gateway.send_signal(signal.SIGTERM)
        gateway.wait(60)
    ok = [r for r in results if r["status"] == 200]
    server_errors = [r for r in results if r["status"] is None or r["status"] >= 500]
    lines = [json.loads(line) for path in glob.glob(f"{landing}/dt=*/*.jsonl")
             for line in Path(path).read_text().splitlines()]
    logged = [e["event_id"] for e in lines if e["event_type"] == "interaction"]
    lost = sorted({r["id"] for r in ok} - set(logged))
    duplicated = len(logged) - len(set(logged))
    latencies = [r["latency_s"] for r in ok]
    ttfts = [r["ttft_s"] for r in ok if r["stream"]]
    report = {
        "requests": args.requests, "concurrency": args.concurrency, "max_tokens": args.max_tokens,
        "workers": args.workers, "ok": len(ok), "server_errors": len(server_errors),
        "lost_events": len(lost), "duplicated_events": duplicated, "wall_s": round(wall, 2),
        "requests_per_s": round(len(ok) / wall, 1),
        "latency_ms": {q: round(pct(latencies, q), 1) for q in (50, 90, 99)},
        "ttft_ms_stream": {q: round(pct(ttfts, q), 1) for q in (50, 90, 99)},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "model": "tiny from config" if not args.model_path else str(model),
    }
    print(f"{'requests':<22}{report['requests']} ({args.concurrency} concurrent, {args.max_tokens} tokens each)")
    print(f"{'ok / 5xx':<22}{report['ok']} / {report['server_errors']}")
    print(f"{'lost / dup events':<22}{report['lost_events']} / {report['duplicated_events']}")
    print(f"{'throughput':<22}{report['requests_per_s']} req/s over {report['wall_s']} s")
    print(f"{'latency p50/p90/p99':<22}" + " / ".join(f"{v} ms" for v in report["latency_ms"].values()))
    print(f"{'TTFT p50/p90/p99':<22}" + " / ".join(f"{v} ms" for v in report["ttft_ms_stream"].values()))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2))
    print(f"wrote {OUT}")
    return 0 if not server_errors and not lost and not duplicated else 1


if __name__ == "__main__":
    sys.exit(main())

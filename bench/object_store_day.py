"""What an object store costs the daily cycle: the demo's first day, step by step, on a local
folder and on S3 (moto's server on 127.0.0.1, tests/s3_store.py).

    python bench/object_store_day.py [--vendor-users 60] [--stores local,s3]

The loop's day 1 (simulated vendor logs -> check_landing, curate, erase, publish,
build_dataset, train_reward, train_sft, evaluate, promote) with the loop test's tiny training
settings (``tests/flywheel/test_loop.py``'s ``TINY_CYCLE``), once per store in a fresh folder /
bucket. moto is an in-process Python server: its latency is not a cloud store's, so the figure
is what our code does on a store (requests, uploads, local copies), not what S3 costs.

Prints a table and writes ``bench/out/object_store_day.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.conftest import PSEUDONYM_KEY  # noqa: E402
from tests.flywheel.test_loop import TINY_CYCLE  # noqa: E402
from tests.s3_store import S3Store, moto_server  # noqa: E402

OUT = REPO / "bench" / "out" / "object_store_day.json"


def run_day(store: str, vendor_users: int, work: Path) -> dict[str, float]:
    """Seconds per cycle step of day 1 on ``store`` ("local" or "s3")."""
    from flywheel import cycle
    from flywheel.loop import LoopConfig, run_loop

    overrides = dict(TINY_CYCLE)
    server = moto_server() if store == "s3" else contextlib.nullcontext(None)
    with server as endpoint:
        if endpoint is not None:
            s3 = S3Store(endpoint, f"bench-{uuid.uuid4().hex[:8]}")
            os.environ.update(s3.env)
            s3.client().create_bucket(Bucket=s3.bucket)
            overrides.update(landing=s3.url("landing"), warehouse=s3.url("warehouse"))
            os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{work / 'mlflow.db'}"
        else:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        loop = LoopConfig(out=str(work / "out"), days=1, users=6, vendor_users=vendor_users, seed=5)
        loop = replace(loop, cycle_overrides={**loop.cycle_overrides, **overrides})
        seconds: dict[str, float] = {}

        def runner(config, day):
            mark = {"name": None, "at": time.monotonic()}

            def progress(name):
                now = time.monotonic()
                if mark["name"]:
                    seconds[mark["name"]] = now - mark["at"]
                mark.update(name=name, at=now)

            steps = cycle.run_cycle(config, day, progress=progress)
            seconds[mark["name"]] = time.monotonic() - mark["at"]
            return steps

        started = time.monotonic()
        run_loop(loop, None, cycle_runner=runner, say=lambda line: None)
        seconds["total (with the simulated day)"] = time.monotonic() - started
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vendor-users", type=int, default=60)
    parser.add_argument("--stores", default="local,s3")
    args = parser.parse_args(argv)
    os.environ.update(FLYWHEEL_PSEUDONYM_KEY=PSEUDONYM_KEY, HF_HUB_OFFLINE="1",
                      TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    results = {}
    for store in args.stores.split(","):
        with tempfile.TemporaryDirectory(prefix=f"bench-{store}-") as work:
            os.environ["FLYWHEEL_CACHE_DIR"] = str(Path(work) / "cache")
            results[store] = run_day(store, args.vendor_users, Path(work))
    stores = list(results)
    print(f"day 1, {args.vendor_users} vendor users, tiny training settings; seconds per step")
    print(f"{'step':<32}" + "".join(f"{s:>10}" for s in stores))
    for step in results[stores[0]]:
        print(f"{step:<32}" + "".join(f"{results[s].get(step, float('nan')):>10.1f}" for s in stores))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"vendor_users": args.vendor_users, "seconds": results}, indent=2))
    print(f"wrote {OUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

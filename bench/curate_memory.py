"""Where the curation job's memory goes on the local FnApiRunner: RSS per stage, and the
PCollections that carry the most bytes.

    PYTHONPATH=$PWD .venv/bin/python bench/curate_memory.py [--sizes 1000,2000,4000] [--seed 0]
                                                            [--short-events] [--top 15]
                                                            [--out bench/out/curate_memory.json]

For each size (target interactions per day) one simulated day is written as ``bench/curate.py``
writes it, then ``pipelines.curate.run`` runs on it in process, in a fresh subprocess, with two
hooks on Beam's FnApiRunner (measurement only; the job is unchanged):

- after every bundle: the process's RSS and the bytes the runner holds in its buffers between
  stages (encoded ``ListBuffer`` bytes, and the element count of each ``GroupingBuffer``, whose
  values the runner keeps decoded);
- at the end: every PCollection's element count and mean encoded size (Beam's own
  ``ELEMENT_COUNT`` and ``SAMPLED_BYTE_SIZE`` monitoring infos), so count x mean = the bytes the
  PCollection moved through the runner.

Printed: peak RSS and its slope in bytes per landing line between sizes, the stage at which the
peak was reached, the GroupByKey inputs held when the most grouped elements were, and the
PCollections with the most bytes per landing line. ``--short-events`` makes the days of
``bench/curate.py --short-events`` (sizes are then events) instead of simulated chats.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import secrets  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

OUT = REPO / "bench" / "out" / "curate_memory.json"
from bench.curate import DATE  # noqa: E402  the day make_day writes


def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def _held_bytes(context) -> tuple[int, int, dict]:
    """(encoded bytes in ListBuffers, elements in GroupingBuffers, elements per GroupingBuffer
    id) the runner holds now."""
    from apache_beam.runners.portability.fn_api_runner import execution

    named = list(context.pcoll_buffers.items())  # (buffer id, buffer)
    for queue in (context.queues.watermark_pending_inputs, context.queues.ready_inputs):
        for _key, data_input in list(queue._q):
            named.extend(data_input.data.items())  # (reading transform id, buffer)
    seen, encoded, grouped, per_buffer = set(), 0, 0, {}
    for name, buffer in named:
        if id(buffer) in seen:
            continue
        seen.add(id(buffer))
        if isinstance(buffer, execution.ListBuffer):
            encoded += sum(len(b) for b in buffer._inputs)
        elif isinstance(buffer, execution.GroupingBuffer):
            elements = sum(len(v) for v in buffer._table.values())
            grouped += elements
            if elements:
                per_buffer[name.decode(errors="replace") if isinstance(name, bytes)
                           else str(name)] = elements
    return encoded, grouped, per_buffer


def _install_hooks(timeline: list, pcoll_names: dict, infos: list) -> None:
    from apache_beam.runners.portability.fn_api_runner import fn_runner

    runner_cls = fn_runner.FnApiRunner
    execute, run_stages = runner_cls._execute_bundle, runner_cls.run_stages

    def hooked_execute(self, context, bundle_context_manager, bundle_input):
        result = execute(self, context, bundle_context_manager, bundle_input)
        encoded, grouped, per_buffer = _held_bytes(context)
        timeline.append({"stage": bundle_context_manager.stage.name[:120], "rss": _rss(),
                         "held_encoded": encoded, "held_grouped_elements": grouped,
                         "grouped_per_buffer": per_buffer, "t": time.monotonic()})
        return result

    def hooked_run_stages(self, stage_context, stages):
        for pcoll_id, pcoll in stage_context.components.pcollections.items():
            pcoll_names[pcoll_id] = pcoll.unique_name
        for transform_id, transform in stage_context.components.transforms.items():
            pcoll_names[transform_id] = transform.unique_name
        result = run_stages(self, stage_context, stages)
        infos.extend(result.monitoring_infos())
        return result

    runner_cls._execute_bundle = hooked_execute
    runner_cls.run_stages = hooked_run_stages


def _pcollection_sizes(infos: list, names: dict) -> dict:
    from apache_beam.metrics import monitoring_infos as mi

    sizes: dict[str, dict] = {}
    for info in infos:
        pcoll = info.labels.get(mi.PCOLLECTION_LABEL)
        if not pcoll:
            continue
        entry = sizes.setdefault(names.get(pcoll, pcoll), {"elements": 0, "sampled_bytes": 0,
                                                           "sampled": 0})
        if info.urn == mi.ELEMENT_COUNT_URN:
            entry["elements"] += mi.extract_counter_value(info)
        elif info.urn == mi.SAMPLED_BYTE_SIZE_URN:
            dist = mi.extract_distribution(info)  # (count, sum, min, max)
            entry["sampled"] += dist[0]
            entry["sampled_bytes"] += dist[1]
    for entry in sizes.values():
        mean = entry["sampled_bytes"] / entry["sampled"] if entry["sampled"] else 0.0
        entry["mean_bytes"] = round(mean, 1)
        entry["total_bytes"] = round(mean * entry["elements"])
        del entry["sampled_bytes"], entry["sampled"]
    return sizes


def _grouped_at_peak(timeline: list, names: dict) -> dict:
    """The GroupingBuffers held when the most grouped elements were: PCollection -> elements."""
    peak = max(timeline, key=lambda e: e["held_grouped_elements"])
    named = {}
    for buffer_id, elements in peak.pop("grouped_per_buffer").items():
        pcoll = buffer_id.split(":", 1)[-1]
        named[names.get(pcoll, buffer_id)] = elements
    for entry in timeline:
        entry.pop("grouped_per_buffer", None)
    return dict(sorted(named.items(), key=lambda kv: -kv[1]))


def child(landing: Path, wh: Path, result_path: Path) -> None:
    from pipelines import curate

    timeline: list = []
    names: dict = {}
    infos: list = []
    _install_hooks(timeline, names, infos)
    start_rss = _rss()
    out = curate.run(["--landing", str(landing), "--warehouse", str(wh), "--date", DATE])
    peak = max(timeline, key=lambda e: e["rss"])
    result_path.write_text(json.dumps({
        "seconds": out["seconds"], "start_rss": start_rss, "peak_rss": peak["rss"],
        "peak_stage": peak["stage"],
        "peak_held_encoded": max(e["held_encoded"] for e in timeline),
        "peak_held_grouped_elements": max(e["held_grouped_elements"] for e in timeline),
        "grouped_at_peak": _grouped_at_peak(timeline, names),
        "timeline": timeline, "pcollections": _pcollection_sizes(infos, names),
    }))


def measure(size: int, seed: int, env: dict, short: bool = False) -> dict:
    from bench.curate import day_counts, make_day

    with tempfile.TemporaryDirectory(prefix="bench-curate-memory-") as tmp:
        tmp_path = Path(tmp)
        landing = tmp_path / "landing"
        make_day(landing, size, seed, short)
        counts = day_counts(landing / f"dt={DATE}")
        result_path = tmp_path / "result.json"
        cpu0 = os.times()
        proc = subprocess.run([sys.executable, __file__, "--_child", "--landing", str(landing),
                               "--warehouse", str(tmp_path / "wh"), "--result", str(result_path)],
                              env=env, capture_output=True, text=True)
        cpu1 = os.times()
        if proc.returncode != 0:
            raise RuntimeError(f"size {size}: job failed: {proc.stderr[-2000:]}")
        result = json.loads(result_path.read_text())
    result.update(size=size, **counts,
                  cpu_s=round((cpu1.children_user - cpu0.children_user)
                              + (cpu1.children_system - cpu0.children_system), 2))
    return result


def report(results: list[dict], top: int) -> None:
    print(f"{'lines':>7} {'peak RSS MiB':>12} {'start MiB':>9} {'cpu s':>7} {'held MiB':>8} "
          f"{'grouped elems':>13}  peak stage")
    for r in results:
        print(f"{r['lines']:>7} {r['peak_rss'] / 2**20:>12.0f} {r['start_rss'] / 2**20:>9.0f} "
              f"{r['cpu_s']:>7.1f} {r['peak_held_encoded'] / 2**20:>8.1f} "
              f"{r['peak_held_grouped_elements']:>13}  {r['peak_stage'][:70]}")
    for a, b in zip(results, results[1:], strict=False):
        slope = (b["peak_rss"] - a["peak_rss"]) / (b["lines"] - a["lines"])
        print(f"peak RSS slope {a['lines']} -> {b['lines']} lines: {slope / 1024:.1f} KiB per line")
    last = results[-1]
    print(f"\nGroupByKey inputs held decoded at the peak ({last['lines']} lines): elements")
    for name, elements in list(last.get("grouped_at_peak", {}).items())[:top]:
        print(f"{elements:>10} {name[:100]}")
    print(f"\nPCollections with the most bytes ({last['lines']} lines): bytes per landing line")
    ranked = sorted(last["pcollections"].items(), key=lambda kv: -kv[1]["total_bytes"])
    for name, entry in ranked[:top]:
        print(f"{entry['total_bytes'] / last['lines']:>10.0f} B/line {entry['elements']:>9} elems"
              f" x {entry['mean_bytes']:>7.0f} B  {name[:90]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,2000,4000")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--short-events", action="store_true",
                        help="sizes are short telemetry events (bench/short_day.py), not chats")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--_child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--landing", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--warehouse", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._child:
        child(args.landing, args.warehouse, args.result)
        return 0
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    env.setdefault("FLYWHEEL_PSEUDONYM_KEY", secrets.token_hex(16))  # throwaway
    env.pop("FLYWHEEL_PSEUDONYM_KEY_FILE", None)
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        results.append(measure(size, args.seed, env, args.short_events))
        print(f"size {size}: {results[-1]['lines']} lines, peak RSS "
              f"{results[-1]['peak_rss'] / 2**20:.0f} MiB", file=sys.stderr, flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"benchmark": "curate_memory", "results": results}) + "\n")
    report(results, args.top)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The sizing table of docs/scale.md: workers and cost per day, from measured per-core throughput.

    .venv/bin/python bench/scale_plan.py [--curate bench/out/curate.json ...]
                                         [--gateway-rps-per-core 22.6] [--out bench/out/scale_plan.json]

Reads the ``interactions``/``lines`` per CPU-second that ``bench/curate.py`` measured (every
``--curate`` JSON given; the in-process job of each day: its throughput per core is the one
that carries to a runner's workers, see the assumptions) and turns them into vCPU-hours per day
for 10 M and 1 B events a day, the workers needed to finish a day inside the batch window, and
the list-price cost on Dataflow, on Compute Engine VMs (Flink/Spark on GKE or Dataproc) and on
EMR. Every price and assumption is a named constant below, with its source; the output is only
as good as they are. Nothing here is measured: it is arithmetic on measured figures.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out" / "scale_plan.json"

# --- Public list prices, on demand, no discounts (USD). Read from the vendors' pricing pages
# (URLs in docs/scale.md) as the author last knew them (2025); re-check before budgeting.
DATAFLOW_BATCH_VCPU_HR = 0.056  # cloud.google.com/dataflow/pricing, batch worker vCPU, us-central1
DATAFLOW_BATCH_GB_HR = 0.003557  # same page, batch worker memory per GB
DATAFLOW_SHUFFLE_GB = 0.011  # same page, Dataflow Shuffle data processed (batch)
N2_VCPU_HR = 0.031611  # cloud.google.com/compute/vm-instance-pricing, N2 vCPU, us-central1
N2_GB_HR = 0.004237  # same page, N2 memory per GB
DATAPROC_VCPU_HR = 0.010  # cloud.google.com/dataproc/pricing: on top of the VMs
M5_XLARGE_HR = 0.192  # aws.amazon.com/ec2/pricing/on-demand, m5.xlarge (4 vCPU, 16 GiB), us-east-1
EMR_M5_XLARGE_HR = 0.048  # aws.amazon.com/emr/pricing, EMR fee for m5.xlarge

# --- Assumptions (each is stated in docs/scale.md).
WORKER_VCPUS = 4  # n2-standard-4 / m5.xlarge
WORKER_GB = 16
# Per-core throughput on a cloud vCPU = per CPU-second here. A vCPU is a hyperthread; this box's
# cores are too (a VM), and CPU-seconds are what the load of other jobs disturbs least.
# A distributed runner adds work the local run does not have (shuffle I/O, gRPC to the SDK
# harness, stragglers, autoscaling ramp): measured locally, going from one process to two SDK
# worker processes cost ~5 % more CPU per record; 1.5x is taken for all of it, a margin.
RUNNER_OVERHEAD = 1.5
BATCH_WINDOW_H = 4.0  # the day must be curated within 4 h of midnight (a nightly DAG)
# Shuffle volume: every record crosses ~6 shuffles (redelivery, erasure, attach, dedup x2,
# resolve), ~1 KB each for short events and ~4 KB for the simulator's chats (encoded sizes
# measured on the bench days: landing bytes per line x ~1.5 for the pickled dict).
SHUFFLES_PER_RECORD = 6
# The gateway: requests per vCPU-second at peak, the peak-to-mean factor of a day's traffic,
# and the share of events that are requests to the gateway (interactions and feedback both are).
PEAK_TO_MEAN = 3.0
# The dedup look-back (CurateConfig.dedup_lookback_days): every night the near stage re-reads
# and re-shuffles every dedup_index row of this many days.
LOOKBACK_DAYS = 90
INDEX_ROW_BYTES = 850  # signature 512 B + prompt/response shingle hashes (~60 x 4 B) + ids
LOOKBACK_CPU_S_PER_ROW = [0.0]  # set from bench/out/dedup_lookback.json in main()
GATEWAY_HEADROOM = 0.6  # run replicas at <= 60 % CPU at peak


# Landing bytes per line of the simulator's chats where a JSON predates the landing_bytes count:
# bench/simulate.py's 105,039-line day is 74.4 MB (docs/benchmarks.md).
SIMULATED_BYTES_PER_LINE = 74.4e6 / 105_039


def measured(paths: list[Path], fixed: tuple[int, float] = (0, 0.0)) -> list[dict]:
    """Per-core throughput of each measured day (in-process job runs); ``fixed`` = (lines, CPU-s)
    of a tiny day's run, subtracted so the per-line cost excludes the job's fixed start-up."""
    rows = []
    for path in paths:
        for result in json.loads(path.read_text())["results"]:
            run = result["runs"].get("job_w1_in_process")
            if not run or run.get("rc") != 0:
                continue
            rows.append({
                "source": str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path),
                "shape": result.get("shape", "simulated_chats"), "lines": result["lines"],
                "lines_per_cpu_s": (result["lines"] - fixed[0]) / (run["cpu_s"] - fixed[1]),
                "lines_per_cpu_s_with_startup": result["lines"] / run["cpu_s"],
                # dedup_index rows the day adds (one per kept interaction) per landing line
                "index_rows_per_line": run["counts"].get("write_rows_interactions", 0)
                / result["lines"],
                "bytes_per_line": (result["landing_bytes"] / result["lines"]
                                   if result.get("landing_bytes") else SIMULATED_BYTES_PER_LINE),
            })
    return rows


def plan(events_per_day: float, lines_per_cpu_s: float, bytes_per_line: float,
         lookback_cpu_s_per_line: float = 0.0) -> dict:
    """``lookback_cpu_s_per_line``: the near-dedup stage's CPU for the history it re-reads, per
    line of the day (0 for a fresh warehouse)."""
    cpu_s_per_line = 1 / lines_per_cpu_s + lookback_cpu_s_per_line
    vcpu_h = events_per_day * cpu_s_per_line * RUNNER_OVERHEAD / 3600
    workers = max(1, math.ceil(vcpu_h / BATCH_WINDOW_H / WORKER_VCPUS))
    worker_h = vcpu_h / WORKER_VCPUS  # billed worker-hours if the day packs onto full workers
    shuffle_gb = events_per_day * SHUFFLES_PER_RECORD * bytes_per_line * 1.5 / 1e9
    if lookback_cpu_s_per_line:  # each past row shuffles its sketch (~0.8 KB) three times
        shuffle_gb += events_per_day * lookback_cpu_s_per_line / LOOKBACK_CPU_S_PER_ROW[0] \
            * 3 * INDEX_ROW_BYTES / 1e9
    dataflow = worker_h * (WORKER_VCPUS * DATAFLOW_BATCH_VCPU_HR + WORKER_GB * DATAFLOW_BATCH_GB_HR)
    vms = worker_h * (WORKER_VCPUS * N2_VCPU_HR + WORKER_GB * N2_GB_HR)
    return {
        "events_per_day": events_per_day, "vcpu_hours": vcpu_h, "workers_in_window": workers,
        "dataflow_usd": dataflow + shuffle_gb * DATAFLOW_SHUFFLE_GB, "dataflow_shuffle_gb": shuffle_gb,
        "gce_vms_usd": vms, "dataproc_usd": vms + vcpu_h * DATAPROC_VCPU_HR,
        "emr_usd": worker_h * (M5_XLARGE_HR + EMR_M5_XLARGE_HR),
    }


def gateway(events_per_day: float, rps_per_core: float) -> dict:
    peak_rps = events_per_day / 86_400 * PEAK_TO_MEAN
    cores = peak_rps / rps_per_core / GATEWAY_HEADROOM
    replicas = max(2, math.ceil(cores / WORKER_VCPUS))
    mean_cores = events_per_day / 86_400 / rps_per_core / GATEWAY_HEADROOM
    return {"events_per_day": events_per_day, "peak_rps": peak_rps, "vcpus_at_peak": cores,
            "replicas_4vcpu_at_peak": replicas,
            "gce_usd_per_day_autoscaled": mean_cores * 24 * (N2_VCPU_HR + 4 * N2_GB_HR)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--curate", type=Path, nargs="+", default=[REPO / "bench/out/curate.json"])
    parser.add_argument("--gateway-rps-per-core", type=float, default=45.3 / 2,
                        help="gateway requests/s per core (bench/gateway.py: 45.3 req/s on 2 "
                             "shared cores, generation included, so an upper bound on cost)")
    parser.add_argument("--lookback", type=Path, default=REPO / "bench/out/dedup_lookback.json",
                        help="bench/dedup_lookback.py's JSON: CPU per past dedup_index row")
    parser.add_argument("--fixed", type=Path, default=REPO / "bench/out/curate_tiny.json",
                        help="bench/curate.py's JSON of a tiny day (--sizes 120): the job's "
                             "fixed start-up CPU, subtracted from each day's")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    missing = [p for p in args.curate if not p.is_file()]
    if missing:
        print(f"error: {missing[0]} not found; run bench/curate.py first", file=sys.stderr)
        return 2
    fixed = (0, 0.0)
    if args.fixed.is_file():
        tiny = json.loads(args.fixed.read_text())["results"][0]
        fixed = (tiny["lines"], tiny["runs"]["job_w1_in_process"]["cpu_s"])
    rows = measured(args.curate, fixed)
    per_row = (json.loads(args.lookback.read_text())["cpu_ms_per_past_row"] / 1000
               if args.lookback.is_file() else 0.0)
    LOOKBACK_CPU_S_PER_ROW[0] = per_row
    plans = []
    for row in rows:
        steady = LOOKBACK_DAYS * row["index_rows_per_line"] * per_row
        for n in (10e6, 1e9):
            plans.append(dict(row, history="fresh", **plan(n, row["lines_per_cpu_s"],
                                                           row["bytes_per_line"])))
            if per_row:
                plans.append(dict(row, history=f"{LOOKBACK_DAYS}-day look-back", **plan(
                    n, row["lines_per_cpu_s"], row["bytes_per_line"], steady)))
    fleet = [gateway(n, args.gateway_rps_per_core) for n in (10e6, 1e9)]
    print(f"{'shape':<16} {'history':<17} {'lines/CPU-s':>11} {'events/day':>10} {'vCPU-h':>9} {'workers':>7} "
          f"{'Dataflow $':>10} {'GCE VMs $':>9} {'Dataproc $':>10} {'EMR $':>9}")
    for p in plans:
        print(f"{p['shape']:<16} {p['history']:<17} {p['lines_per_cpu_s']:>11.1f} {p['events_per_day']:>10.0e} "
              f"{p['vcpu_hours']:>9.0f} {p['workers_in_window']:>7} {p['dataflow_usd']:>10.0f} "
              f"{p['gce_vms_usd']:>9.0f} {p['dataproc_usd']:>10.0f} {p['emr_usd']:>9.0f}")
    print(f"workers: {WORKER_VCPUS}-vCPU workers to finish in {BATCH_WINDOW_H:.0f} h; runner "
          f"overhead x{RUNNER_OVERHEAD}; $ per day, list prices")
    for g in fleet:
        print(f"gateway {g['events_per_day']:.0e}/day: peak {g['peak_rps']:.0f} req/s, "
              f"{g['vcpus_at_peak']:.0f} vCPUs, {g['replicas_4vcpu_at_peak']} replicas of 4 vCPU, "
              f"${g['gce_usd_per_day_autoscaled']:.0f}/day autoscaled")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"fixed_startup": {"lines": fixed[0], "cpu_s": fixed[1]},
                                    "lookback_cpu_s_per_past_row": per_row, "plans": plans,
                                    "gateway": fleet}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Run one child process; measure its whole process tree: wall, CPU and peak RSS per process.

Used by ``bench/curate.py``. On a shared machine wall time moves with other people's jobs, so
every run also records the CPU seconds of each process (user + sys, sampled with psutil at
5 Hz, and ``getrusage(RUSAGE_CHILDREN)`` of the launcher for the tree as a whole), the peak RSS
of each process, and the load average before and after. Beam's multi-processing mode starts
its SDK workers as ``python -m apache_beam.runners.worker.sdk_worker_main``; those are the
``sdk_worker`` processes, the child itself is the ``runner`` (in process it is runner and
worker at once).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
import time

SAMPLE_EVERY_S = 0.2


def _role(proc, root_pid: int) -> str:
    import psutil

    if proc.pid == root_pid:
        return "runner"
    try:
        cmdline = proc.cmdline()
    except psutil.Error:
        return "other"
    # Beam starts each worker through a shell: the python process is the worker
    is_python = bool(cmdline) and "python" in os.path.basename(cmdline[0])
    return "sdk_worker" if is_python and "sdk_worker_main" in " ".join(cmdline) else "other"


def _sample(root, seen: dict[int, dict]) -> int:
    """Updates each live process's CPU seconds, RSS now and peak RSS; returns the tree's summed
    RSS."""
    import psutil

    try:
        procs = [root] + root.children(recursive=True)
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        try:
            with p.oneshot():
                t = p.cpu_times()
                rss = p.memory_info().rss
        except psutil.Error:
            continue
        entry = seen.get(p.pid)
        if entry is None:
            entry = seen[p.pid] = {"pid": p.pid, "role": _role(p, root.pid), "cpu_s": 0.0,
                                   "peak_rss": 0}
        entry["cpu_s"] = t.user + t.system  # the process's own CPU: no double count
        entry["peak_rss"] = max(entry["peak_rss"], rss)
        entry["rss"] = rss
        total += rss
    return total


def _log_line(log, start: float, seen: dict[int, dict], live: set[int]) -> None:
    procs = " ".join(f"{p['role']}:{p['pid']}:rss={p['rss'] / 2**20:.0f}M:cpu={p['cpu_s']:.1f}s"
                     for p in seen.values() if p["pid"] in live)
    log.write(f"{time.strftime('%H:%M:%S')} t={time.perf_counter() - start:.0f}s "
              f"load={os.getloadavg()[0]:.1f} {procs}\n")
    log.flush()


def launch(argv: list[str], env: dict, rss_log=None, log_every_s: float = 30.0) -> dict:
    """Runs ``python argv...`` to completion; wall, CPU and memory of its whole process tree.

    ``rss_log``: an open text file that gets one line every ``log_every_s`` seconds with each
    live process's RSS and CPU seconds so far (the memory curve of a long run)."""
    import psutil

    load_before = os.getloadavg()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    popen = subprocess.Popen([sys.executable, *argv], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    root = psutil.Process(popen.pid)
    seen: dict[int, dict] = {}
    peak_tree_rss = 0
    output: list[bytes] = []
    reader = threading.Thread(target=lambda: output.extend(popen.stdout), daemon=True)
    reader.start()
    next_log = start
    while popen.poll() is None:
        peak_tree_rss = max(peak_tree_rss, _sample(root, seen))
        if rss_log is not None and time.perf_counter() >= next_log:
            live = {p.pid for p in [root] + _children(root)}
            _log_line(rss_log, start, seen, live)
            next_log += log_every_s
        time.sleep(SAMPLE_EVERY_S)
    wall = time.perf_counter() - start
    reader.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    rusage_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    sampled_cpu = sum(p["cpu_s"] for p in seen.values())
    processes = sorted(({"role": p["role"], "cpu_s": round(p["cpu_s"], 2),
                         "peak_rss_mib": round(p["peak_rss"] / 2**20, 1)}
                        for p in seen.values()), key=lambda p: (p["role"] != "runner", p["role"]))
    return {
        "rc": popen.returncode,
        "output_tail": b"".join(output).decode(errors="replace")[-3000:],
        "process_wall_s": wall,
        "load_avg_before": [round(x, 2) for x in load_before],
        "load_avg_after": [round(x, 2) for x in os.getloadavg()],
        "cpu_s_rusage": rusage_cpu,
        "cpu_s_sampled": sampled_cpu,
        # the samples miss the last 0.2 s of each process; rusage misses nothing it waited for
        "cpu_s": max(rusage_cpu, sampled_cpu),
        "processes": processes,
        # the launcher's RUSAGE_CHILDREN ru_maxrss is a maximum over every earlier run too, so
        # the largest process comes from the samples (and the child's own getrusage)
        "peak_rss_largest_mib": max((p["peak_rss"] for p in seen.values()), default=0) / 2**20,
        "peak_rss_tree_mib": peak_tree_rss / 2**20,
    }


def _children(root) -> list:
    import psutil

    try:
        return root.children(recursive=True)
    except psutil.Error:
        return []


def own_maxrss_mib() -> float:
    """Largest RSS of this process and of any descendant it waited for (KiB on Linux)."""
    return max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024

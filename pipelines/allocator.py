"""The local runner's memory: make glibc's malloc hand freed buffers back to the system.

Beam's local runner (FnApiRunner) moves every stage's output to the next stage as encoded byte
buffers, megabytes each, and frees them once they are read. glibc serves a block above its
mmap threshold with its own ``mmap`` and unmaps it on free, but it raises that threshold to the
size of every such block freed (up to 32 MiB on 64-bit); from then on these buffers come from
the heap, where the free space between live blocks is never returned. Measured on short-event
days (``bench/curate_memory.py --short-events --sizes 10000,40000``, docs/benchmarks.md "Short
events"): the job's peak RSS grew 9.5 KiB per landing line from 10k to 40k events (1,480 MiB at
40k) while the runner's buffers held ~4-6 KiB per line; with the two thresholds fixed it grew
6.5 KiB per line (1,244 MiB at 40k), at the same CPU time within the noise.

``returning_freed_memory()`` fixes them (``mallopt``) for this process, where the runner keeps
its buffers, and, for the run, in the environment that the runner's worker processes
(``--direct_running_mode multi_processing``) inherit. Outside glibc (musl, macOS) it changes
nothing. A distributed runner's workers are not this process, and keep their own settings.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import sys

log = logging.getLogger("pipelines.allocator")

# mallopt parameters (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# A block of 64 KiB or more is mmapped (unmapped on free); a free heap top over 128 KiB is
# trimmed. Both are fixed: setting either turns glibc's dynamic raising of them off.
MMAP_THRESHOLD = 64 * 1024
TRIM_THRESHOLD = 128 * 1024
# The same settings for processes started during the run (glibc reads them at start).
ENVIRONMENT = {"MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD),
               "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD)}


def fix_malloc_thresholds() -> bool:
    """Sets this process's thresholds; False where the C library is not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018  glibc only; musl's mallopt does nothing
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


@contextlib.contextmanager
def returning_freed_memory():
    """For a local run: this process's thresholds, and its worker processes' for the run."""
    if not fix_malloc_thresholds():
        log.debug("malloc thresholds unchanged: not glibc")
        yield
        return
    saved = {name: os.environ.get(name) for name in ENVIRONMENT}
    os.environ.update({name: value for name, value in ENVIRONMENT.items()
                       if saved[name] is None})  # an operator's own setting wins
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)

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

After the run the process may go on (the flywheel cycle trains in it), and small fixed
thresholds would cost it: every tensor of 64 KiB or more would be mapped and unmapped. glibc
cannot turn its dynamic adjustment back on, so the thresholds are then set where that
adjustment ends (``RELEASED``: 32 MiB, the 64-bit ceiling, and twice that for the trim).
Measured on 300 CPU training steps of a 0.5M-parameter MLP, one thread: 1.2-1.6 s by default,
1.6-1.8 s with the run's thresholds, 1.0 s after their release.
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
# After the run: glibc's own dynamic ceiling (DEFAULT_MMAP_THRESHOLD_MAX on 64-bit) and twice
# that for the trim, as its adjustment would set them.
RELEASED = (32 * 1024 * 1024, 64 * 1024 * 1024)
# The same settings for processes started during the run (glibc reads them at start).
ENVIRONMENT = {"MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD),
               "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD)}


def _mallopt():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018  glibc only; musl's mallopt does nothing
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return mallopt


def available() -> bool:
    """Whether this process's C library is glibc, whose thresholds these are."""
    return _mallopt() is not None


def set_malloc_thresholds(mmap_threshold: int, trim_threshold: int) -> bool:
    """Sets this process's thresholds; False where the C library is not glibc."""
    mallopt = _mallopt()
    return mallopt is not None and bool(mallopt(M_MMAP_THRESHOLD, mmap_threshold)
                                        and mallopt(M_TRIM_THRESHOLD, trim_threshold))


def fix_malloc_thresholds() -> bool:
    """The run's thresholds for this process; False where the C library is not glibc."""
    return set_malloc_thresholds(MMAP_THRESHOLD, TRIM_THRESHOLD)


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
        set_malloc_thresholds(*RELEASED)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)

"""The local runner's allocator setting: freed stage buffers go back to the system."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pipelines import allocator

# A child process: frees one 16 MiB block (glibc then raises its mmap threshold to 16 MiB), then
# allocates 200 blocks of 1 MiB, as the runner's stage buffers are, and one small block after
# them, and frees the 200. Prints how much of the 200 MiB the RSS still holds.
_CHILD = textwrap.dedent("""
    import sys
    import psutil
    from pipelines import allocator
    if sys.argv[1] == "fixed":
        assert allocator.fix_malloc_thresholds()
    elif sys.argv[1] == "after_the_run":
        with allocator.returning_freed_memory():
            pass
    rss = lambda: psutil.Process().memory_info().rss
    big = bytearray(16 << 20); del big
    before = rss()
    blocks = [bytearray(1 << 20) for _ in range(200)]
    for block in blocks:
        block[::4096] = b"x" * len(block[::4096])  # touch every page
    keeper = bytearray(2048)
    del blocks
    print((rss() - before) / 2**20)
""")


REPO = Path(allocator.__file__).resolve().parents[1]


def _held_mib(mode: str) -> float:
    out = subprocess.run([sys.executable, "-c", _CHILD, mode], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    return float(out.stdout.strip())


@pytest.mark.skipif(not allocator.available(), reason="the C library is not glibc")
def test_freed_stage_buffers_return_to_the_system_with_the_thresholds_fixed():
    assert _held_mib("default") > 150  # glibc's dynamic threshold keeps them on the heap
    assert _held_mib("fixed") < 20


@pytest.mark.skipif(not allocator.available(), reason="the C library is not glibc")
def test_after_the_run_blocks_below_the_ceiling_come_from_the_heap_again():
    # what the training that follows a run in the same process allocates and frees all the time
    assert _held_mib("after_the_run") > 150


def test_worker_processes_inherit_the_setting_for_the_run_only(monkeypatch):
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "999")  # an operator's own setting
    with allocator.returning_freed_memory():
        if allocator.available():
            assert os.environ["MALLOC_MMAP_THRESHOLD_"] == str(allocator.MMAP_THRESHOLD)
        assert os.environ["MALLOC_TRIM_THRESHOLD_"] == "999"
    assert "MALLOC_MMAP_THRESHOLD_" not in os.environ
    assert os.environ["MALLOC_TRIM_THRESHOLD_"] == "999"

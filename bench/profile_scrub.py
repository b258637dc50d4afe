"""Where the scrubber's time goes: a cProfile of PiiScrubber on texts the curation job scrubs.

    PYTHONPATH=$PWD .venv/bin/python bench/profile_scrub.py [--users 60] [--texts 1500]

Simulates a small day (``feedback.simulate``), takes the free texts the job would scrub
(``bench/curate.py``'s ``texts_the_job_scrubs``), scrubs them in batches of 256 as ``ScrubPII``
does and groups the profile's own time (tottime) by library. cProfile inflates Python-level
code against C extensions, so the shares are rough. CPU time (``time.process_time``). Prints a table; writes
``bench/out/profile_scrub.json``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import cProfile  # noqa: E402
import json  # noqa: E402
import pstats  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

OUT = REPO / "bench" / "out" / "profile_scrub.json"
# (group, substrings of the code's file path), first match wins
GROUPS = (
    ("spaCy/thinc NER model", ("/spacy/", "/thinc/", "/numpy/", "/blis/", "/cymem/", "/preshed/",
                               "/srsly/")),
    ("phonenumbers", ("/phonenumbers/",)),
    ("regular expressions", ("/re/", "/regex/")),
    ("tldextract", ("/tldextract/",)),
    ("presidio", ("/presidio",)),
    ("pipelines.pii (ours)", ("/pipelines/pii/",)),
)


def group_of(filename: str, function: str) -> str:
    if filename.endswith((".pyx", ".pxd")):  # spaCy's and thinc's Cython sources
        return GROUPS[0][0]
    for name, parts in GROUPS:
        if any(part in filename for part in parts):
            return name
    if filename == "~" and any(m in function for m in ("Pattern", "re.Match", "_sre")):
        return "regular expressions"
    return "other (builtins, glue)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=60)
    parser.add_argument("--texts", type=int, default=1500)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from bench.curate import texts_the_job_scrubs
    from feedback import simulate
    from pipelines.pii import PiiScrubber, ScrubConfig

    with tempfile.TemporaryDirectory() as tmp:
        simulate.simulate_day(Path(tmp), "2026-11-02", args.users, 1, ("v1", "v2"))
        texts, _ = texts_the_job_scrubs(Path(tmp) / "dt=2026-11-02")
    texts = texts[:args.texts]
    scrubber = PiiScrubber(ScrubConfig())
    scrubber.setup()
    scrubber.scrub_batch(texts[:2])  # warm-up: lazy compiles
    profile = cProfile.Profile(time.process_time)  # CPU time: the box is shared
    profile.enable()
    for start in range(0, len(texts), 256):
        scrubber.scrub_batch(texts[start:start + 256])
    profile.disable()
    stats = pstats.Stats(profile).stats
    total = sum(v[2] for v in stats.values())
    shares: dict[str, float] = {}
    other: list[tuple[float, str]] = []
    for (filename, line, function), v in stats.items():
        key = group_of(filename, function)
        shares[key] = shares.get(key, 0.0) + v[2]
        if key.startswith("other"):
            other.append((v[2], f"{Path(filename).name}:{line} {function}"))
    print(f"{len(texts)} texts, {sum(map(len, texts)):,} characters, {total:.1f} s profiled")
    for name, seconds in sorted(shares.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<28} {seconds:7.2f} s {100 * seconds / total:5.1f} %")
    print("  largest of 'other':", "; ".join(f"{name} {sec:.1f} s"
                                             for sec, name in sorted(other, reverse=True)[:5]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"texts": len(texts), "profiled_s": total,
                                    "share": {k: v / total for k, v in shares.items()}},
                                   indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Writing a day: lines spread over the landing files (the last one gzipped), malformed lines and
re-deliveries planted among them, and the truth file that records where each one landed."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

from feedback.simulate.config import SimulateConfig
from feedback.simulate.lines import Line, uuid_for
from feedback.simulate.malformed import MALFORMED_KINDS, malformed_line
from feedback.simulate.structure import Day


def write_day(landing: Path, day: Day, lines: list[Line], truth: dict,
              prev_versions: tuple[str, ...], cfg: SimulateConfig) -> Path:
    """Write ``LANDING/dt=DATE/events-*.jsonl[.gz]`` and ``LANDING/_truth/dt=DATE.json``;
    return the truth's path."""
    rng = random.Random(f"{day.seed}|{day.date}|files")
    names = [f"events-{i:05d}.jsonl" for i in range(cfg.files - 1)] + [
        f"events-{cfg.files - 1:05d}.jsonl.gz"]
    files: list[list[Line]] = [[] for _ in names]
    for ln in lines:
        files[rng.randrange(len(names))].append(ln)
    _plant_malformed(files, lines, day, cfg, rng)
    _plant_redeliveries(files, len(lines), cfg, rng)
    malformed, redelivered, lines_total = _write_files(landing / f"dt={day.date}", names, files)
    out = {
        "date": day.date,
        "seed": day.seed,
        "users": day.users,
        "model_versions": list(day.model_versions),
        "previous_model_versions": list(prev_versions),
        "files": names,
        "lines_total": lines_total,
        "events_valid": lines_total - len(malformed),
        "malformed": malformed,
        "redelivered": redelivered,
    }
    out.update(truth)
    truth_dir = landing / "_truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    path = truth_dir / f"dt={day.date}.json"
    tmp = truth_dir / f".dt={day.date}.json.tmp"
    tmp.write_text(json.dumps(out, ensure_ascii=False, separators=(",", ":")) + "\n")
    tmp.replace(path)
    return path


def _plant_malformed(files: list[list[Line]], lines: list[Line], day: Day, cfg: SimulateConfig,
                     rng: random.Random) -> None:
    """Every malformed kind at least once, each at a random place in a random file.

    Malformed lines are made from fresh events so their ids collide with nothing.
    """
    interactions = [ln for ln in lines if b'"event_type":"interaction"' in ln.data[:40]]
    feedbacks = [ln for ln in lines if b'"event_type":"feedback"' in ln.data[:40]
                 and b'"kind":"thumbs"' in ln.data]
    n_malformed = max(len(MALFORMED_KINDS), round(cfg.malformed_rate * len(lines)))
    kinds = list(MALFORMED_KINDS)
    for n in range(n_malformed):
        kind = kinds[n] if n < len(kinds) else rng.choice(kinds)
        base_i = json.loads(rng.choice(interactions).data)
        base_f = json.loads(rng.choice(feedbacks).data) if feedbacks else {
            "event_type": "feedback", "timestamp": base_i["timestamp"],
            "user_id": base_i["user_id"], "interaction_id": base_i["event_id"],
            "kind": "thumbs", "value": 1}
        base_i["event_id"] = uuid_for(day.seed, day.date, "malformed-i", n)
        base_f["event_id"] = uuid_for(day.seed, day.date, "malformed-f", n)
        target = files[rng.randrange(len(files))]
        target.insert(rng.randint(0, len(target)),
                      Line(malformed_line(kind, base_i, base_f, rng), 0, None,
                           MALFORMED_KINDS[kind], kind))


def _plant_redeliveries(files: list[list[Line]], n_lines: int, cfg: SimulateConfig,
                        rng: random.Random) -> None:
    """Byte-identical copies appended later, in the same or a later file."""
    valid = [(fi, ln) for fi, fl in enumerate(files) for ln in fl if ln.malformed is None]
    n_redelivered = max(2, round(cfg.redelivered_rate * n_lines))
    for fi, ln in rng.sample(valid, min(len(valid), n_redelivered)):
        files[rng.randint(fi, len(files) - 1)].append(Line(ln.data, ln.ts, ln.event_id,
                                                           redelivered=True))


def _write_files(partition: Path, names: list[str], files: list[list[Line]]
                 ) -> tuple[list[dict], list[dict], int]:
    """Replace the partition's event files; return the malformed and re-delivered lines' places
    and the number of lines written."""
    partition.mkdir(parents=True, exist_ok=True)
    for old in partition.glob("events-*.jsonl*"):
        old.unlink()
    malformed, redelivered = [], []
    lines_total = 0
    for name, fl in zip(names, files, strict=True):
        for number, ln in enumerate(fl, start=1):
            if ln.malformed:
                malformed.append({"file": name, "line": number, "reason": ln.malformed,
                                  "kind": ln.malformed_kind})
            elif ln.redelivered:
                redelivered.append({"event_id": ln.event_id, "file": name, "line": number})
        data = b"".join(ln.data + b"\n" for ln in fl)
        lines_total += len(fl)
        if name.endswith(".gz"):
            data = gzip.compress(data, compresslevel=6, mtime=0)
        tmp = partition / f".{name}.tmp"
        tmp.write_bytes(data)
        tmp.replace(partition / name)
    return malformed, redelivered, lines_total

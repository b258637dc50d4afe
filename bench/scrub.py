"""Stock Presidio vs our PiiScrubber on presidio-research's labelled synthetic texts, one core.

    .venv/bin/python bench/scrub.py [--limit N] [--data PATH] [--out bench/out/scrub.json]

Stock = ``AnalyzerEngine.analyze`` + ``AnonymizerEngine.anonymize`` one text at a time, default
recognizers, the same spaCy model. Ours = ``PiiScrubber.scrub_batch`` over all texts. Prints
throughput, speed-up, leak rate (overall and per labelled type) and word survival; writes JSON.
"""

from __future__ import annotations

import os

# one core each: set before numpy/torch/thinc load their thread pools
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TORCH_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipelines.pii import PiiScrubber, ScrubConfig, measure_leaks  # noqa: E402
from pipelines.recognizers import patch_tldextract_offline  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "presidio_synth_dataset_v2.json"


def _pin_one_core() -> None:
    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    except (AttributeError, OSError):
        pass  # not Linux: the thread variables above still keep each engine on one thread
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


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

    def scrub(text: str) -> str:
        results = analyzer.analyze(text=text, language="en")
        return anonymizer.anonymize(text=text, analyzer_results=results).text

    # every type Presidio's defaults can report counts as "scrubbed" for its leak rate
    entities = tuple(analyzer.get_supported_entities("en"))
    return scrub, entities


def run_bench(samples: list[dict], model: str) -> dict:
    texts = [s["full_text"] for s in samples]

    stock_scrub, stock_entities = stock_presidio(model)
    stock_scrub(texts[0])  # warm-up: lazy regex compiles
    start = time.perf_counter()
    stock_out = [stock_scrub(t) for t in texts]
    stock_s = time.perf_counter() - start

    scrubber = PiiScrubber(ScrubConfig(spacy_model=model))
    scrubber.setup()
    scrubber.scrub_batch(texts[:1])
    start = time.perf_counter()
    ours_out = [r.text for r in scrubber.scrub_batch(texts)]
    ours_s = time.perf_counter() - start

    reports = {
        "stock_presidio": (measure_leaks(samples, stock_out, stock_entities), stock_s),
        "ours": (measure_leaks(samples, ours_out, scrubber.config.entities), ours_s),
    }
    result = {"texts": len(texts), "spacy_model": model, "engines": {}}
    for name, (report, seconds) in reports.items():
        result["engines"][name] = {
            "seconds": round(seconds, 3),
            "texts_per_s": round(len(texts) / seconds, 1),
            "leak_rate": round(report.leak_rate, 4),
            "leak_rate_all_labels": round(report.leak_rate_all_labels, 4),
            "scrubbed_labels": list(report.scrubbed_labels),
            "survival": round(report.survival, 4),
            "per_label": {
                label: {"spans": report.spans[label], "leaks": report.leaks[label],
                        "leak_rate": round(report.leak_rate_of(label), 4)}
                for label in sorted(report.spans, key=lambda k: -report.spans[k])
            },
        }
    result["speedup"] = round(stock_s / ours_s, 2)
    # hold-out check: the recognizers were tuned on the first half of the file only
    half = len(samples) // 2
    result["ours_halves"] = {}
    for name, part in (("first_half", slice(0, half)), ("second_half", slice(half, None))):
        report = measure_leaks(samples[part], ours_out[part], scrubber.config.entities)
        result["ours_halves"][name] = {"texts": len(samples[part]),
                                       "leak_rate": round(report.leak_rate, 4),
                                       "survival": round(report.survival, 4)}
    return result


def print_table(result: dict) -> None:
    stock, ours = result["engines"]["stock_presidio"], result["engines"]["ours"]
    print(f"{result['texts']} texts, spaCy model {result['spacy_model']}, one core")
    print(f"{'':28}{'stock presidio':>16}{'ours':>10}")
    print(f"{'texts/s':28}{stock['texts_per_s']:>16.1f}{ours['texts_per_s']:>10.1f}")
    print(f"{'speed-up':28}{'':>16}{result['speedup']:>9.2f}x")
    print(f"{'leak rate (scrubbed types)':28}{stock['leak_rate']:>16.1%}{ours['leak_rate']:>10.1%}")
    print(f"{'leak rate (all labels)':28}{stock['leak_rate_all_labels']:>16.1%}"
          f"{ours['leak_rate_all_labels']:>10.1%}")
    print(f"{'word survival':28}{stock['survival']:>16.1%}{ours['survival']:>10.1%}")
    print("leaks per labelled type (* = scrubbed by ours by default)")
    for label, row in ours["per_label"].items():
        mark = "*" if label in ours["scrubbed_labels"] else " "
        stock_rate = stock["per_label"][label]["leak_rate"]
        print(f"  {label + ' ' + mark:24}{row['spans']:>4}{stock_rate:>16.1%}{row['leak_rate']:>10.1%}")
    for name, row in result["ours_halves"].items():
        print(f"ours, {name} ({row['texts']} texts): leak rate {row['leak_rate']:.1%}, "
              f"word survival {row['survival']:.1%}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None, help="first N texts only")
    parser.add_argument("--model", default=ScrubConfig.spacy_model)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "scrub.json")
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"error: dataset {args.data} not found (see ../shared/data/README.md)",
              file=sys.stderr)
        return 2
    samples = json.loads(args.data.read_text())[: args.limit]
    _pin_one_core()
    try:
        result = run_bench(samples, args.model)
    except (OSError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print_table(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The flywheel as an experiment: K days of simulated users talking to the gateway, the cycle
after each, and whether the users ended up better served.

    .venv/bin/python bench/flywheel.py --taste MODULE:FUNCTION --days K [--users N]
        [--levers sft,dpo] [--vendor-users N] [--seed S] [--side-by-side RATE] [--out DIR]

Per day it prints the served version(s), the users' mean taste score with its 95% CI, and the
gate's decision with its reason. After the last day it asks the last day's users' opening
questions of day 1's champion and of the model served at the end (same sampling seeds) and
reports the mean paired taste difference with its 95% CI. Checks, each a line of the verdict:

* ``improved``: the served model beats day 1's champion (the CI of the difference above 0);
* ``no_drop``: across promotions, the served score never drops by more than its CI half-width;
* with ``--taste coin`` (users whose feedback is a fair coin): ``never_promoted`` after day 1,
  and the bench exits 1 when a candidate was promoted.

Writes ``bench/out/<run_name>.json`` (``flywheel-<taste>-<levers>-s<seed>`` and a suffix per
non-default setting). The machine is shared: the wall
time is printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def served_rows(result: dict) -> list[dict]:
    """(day, champion version, its score row) for every gateway day."""
    rows = []
    for day in result["days"]:
        label = f"flywheel-sft/{day.get('champion')}"
        for row in day.get("scores", []):
            if row["model_version"] == label:
                rows.append({"day": day["day"], "version": day["champion"], **row})
    return rows


def checks(result: dict, comparison: dict, taste: str) -> dict:
    promotions = [d for d in result["days"][1:] if d["gate"]["promoted"]]
    served = served_rows(result)
    drops = []
    for before, after in zip(served, served[1:], strict=False):
        if after["version"] != before["version"]:
            half = (before["score_ci"][1] - before["score_ci"][0]) / 2
            drops.append({"from": before["version"], "to": after["version"],
                          "drop": before["mean_score"] - after["mean_score"], "allowed": half,
                          "ok": before["mean_score"] - after["mean_score"] <= half})
    low, high = comparison["difference_ci"]
    if comparison["served_version"] != comparison["baseline_version"] and comparison["questions"]:
        # the last promotion, read on the same questions: served minus the day-1 champion
        half = (high - low) / 2
        drops.append({"from": comparison["baseline_version"], "to": comparison["served_version"],
                      "drop": -comparison["mean_difference"], "allowed": half,
                      "ok": -comparison["mean_difference"] <= half, "on": "same questions"})
    out = {"promotions_after_day1": len(promotions), "no_drop": all(d["ok"] for d in drops),
           "drops": drops}
    out["improved"] = bool(comparison["questions"] and low == low and low > 0)
    if taste == "coin":
        out["never_promoted"] = not promotions
    return out


def sample_answers(model_dir, questions: list[list[dict]], seed: int, max_tokens: int,
                   temperature: float) -> list[str]:
    """Seeded sampled answers of a checkpoint, as the gateway's transformers backend samples."""
    import torch

    from training.evaluate import load_causal_lm

    model, tokenizer = load_causal_lm(model_dir)
    answers = []
    for i, messages in enumerate(questions):
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        ids = list(ids["input_ids"] if hasattr(ids, "keys") else ids)[-(512 - max_tokens):]
        torch.manual_seed(seed + i)
        with torch.no_grad():
            out = model.generate(input_ids=torch.tensor([ids]), max_new_tokens=max_tokens,
                                 do_sample=True, temperature=temperature, top_p=1.0,
                                 pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
        answers.append(tokenizer.decode(out[0, len(ids):], skip_special_tokens=True).strip())
    return answers


def greedy_degenerate(model_dir, prompts: list[list[dict]]) -> int:
    """How many of the gate's greedy answers to ``prompts`` are degenerate (training.evaluate)."""
    from training.config import EvalConfig
    from training.evaluate import generate_answers, is_degenerate, load_causal_lm

    model, tokenizer = load_causal_lm(model_dir)
    return sum(map(is_degenerate, generate_answers(model, tokenizer, prompts, EvalConfig())))


def ablate(work: Path, taste_spec: str, users: int, seed: int, overrides: dict | None = None) -> dict:
    """Each lever alone and both, trained from day 1's champion on day 2's dataset of a finished
    run (``work``), scored by the taste on day 3's users' opening questions: the paired mean
    difference against the champion with its 95% t interval; and each model's degenerate greedy
    answers to the fresh eval prompts the gate reads. No gateway, no gate: the levers' own
    effect on the same data. ``sft-no-replay`` is SFT without the earlier rows it rehearses;
    ``bon*`` rows are best-of-n SFT with the loop's reward model and two MiniLM ones, each also
    followed by DPO, and ``reward_agreement`` says how well each reward model ranks the
    champion's own samples by the taste."""
    from dataclasses import replace

    from feedback.users import load_taste
    from feedback.users.session import UsersConfig, first_questions
    from flywheel import cycle
    from flywheel.loop import LoopConfig, cycle_config
    from training import registry
    from training.best_of_n import BestOfNConfig, train_best_of_n
    from training.config import REWARD_MODEL_NAME, RewardTrainConfig
    from training.data import resolve_dataset
    from training.dpo import DPOTrainConfig, train_dpo
    from training.reward import train_reward
    from training.sft import SFTTrainConfig, read_sft_rows, train_sft

    config = LoopConfig(out=str(work), taste=taste_spec, users=users, seed=seed)
    config = replace(config, cycle_overrides={**config.cycle_overrides, **(overrides or {})})
    cconfig = cycle_config(config, str(work / "pseudonym.key"))
    taste, uc = load_taste(taste_spec), UsersConfig()
    client = registry.connect(cconfig.warehouse, cconfig.tracking_uri)
    base = registry.local_model_dir(registry.get_version(client, "flywheel-sft", 1))
    dataset_id = cycle.build_dataset(cconfig, config.day(2))["dataset_id"]
    fresh = cycle.fresh_event_ids(cconfig, config.day(1), config.day(2))
    eval_prompts = [c[:-1] for c in read_sft_rows(resolve_dataset(cconfig.warehouse, dataset_id),
                                                  "eval", fresh)]
    questions = first_questions(seed, config.day(3), users, None, uc)
    sft_config = SFTTrainConfig(base=str(base), epochs=cconfig.continue_epochs,
                                learning_rate=cconfig.continue_learning_rate, max_length=cconfig.sft_max_length)
    dpo_config = DPOTrainConfig(epochs=cconfig.dpo_epochs, beta=cconfig.dpo_beta,
                                learning_rate=cconfig.dpo_learning_rate)
    ablation = work / "ablation"

    def sft(name, cfg):
        return train_sft(cconfig.warehouse, dataset_id, config=cfg, register=False, event_ids=fresh,
                         out=ablation / name)["model_dir"]

    def dpo(name, start):
        return train_dpo(cconfig.warehouse, dataset_id, start, config=dpo_config, register=False,
                         event_ids=fresh, out=ablation / name)["model_dir"]

    models = {"champion": base, "sft": sft("sft", sft_config),
              "sft-no-replay": sft("sft-no-replay", replace(sft_config, replay=0.0))}
    models.update({"dpo": dpo("dpo", base), "sft+dpo": dpo("sft+dpo", models["sft"])})
    # Day 2's dataset rebuilt now lacks the users erased since, so it has its own reward
    # models: the loop's (its small encoder from config) and the pretrained MiniLM encoder's.
    reward = registry.get_version(client, REWARD_MODEL_NAME,
                                  cycle.train_reward_model(cconfig, dataset_id)["version"])
    # "-long": 160 answer tokens instead of 64, room for the closings users' edits append.
    rewards = {"bon": registry.local_model_dir(reward)}
    for name, reward_config in (
            ("bon-minilm", RewardTrainConfig(base="minilm")),
            ("bon-minilm-long", RewardTrainConfig(base="minilm", max_length=256, max_response_tokens=160))):
        rewards[name] = train_reward(cconfig.warehouse, dataset_id, register=False, config=reward_config,
                                     out=ablation / f"reward-{name}")["model_dir"]
    bon_config = BestOfNConfig(n=cconfig.bon_n, seed=1)
    for name, reward_dir in rewards.items():
        models[name] = train_best_of_n(cconfig.warehouse, dataset_id, base, reward_dir,
                                       config=bon_config, sft_config=sft_config, register=False,
                                       event_ids=fresh, out=ablation / name)["model_dir"]
        models[f"{name}+dpo"] = dpo(f"{name}+dpo", models[name])
    scores = {name: [float(taste(q, a)) for q, a in zip(questions, sample_answers(
        path, questions, seed, uc.max_tokens, uc.temperature), strict=True)] for name, path in models.items()}
    rows = [{"levers": name, "degenerate_greedy": greedy_degenerate(path, eval_prompts),
             "eval_prompts": len(eval_prompts), **paired(scores[name], scores["champion"])}
            for name, path in models.items()]
    agreement = {name: {"reward_model": str(path), "eval_pairwise_accuracy": json.loads(
        (Path(path) / "meta.json").read_text())["metrics"].get("eval_pairwise_accuracy"),
        **reward_agreement(base, path, questions, taste, bon_config)} for name, path in rewards.items()}
    return {"taste": taste_spec, "dataset_id": dataset_id, "fresh_interactions": len(fresh),
            "rows": rows, "reward_agreement": agreement}


def reward_agreement(policy, reward_dir, questions, taste, config) -> dict:
    """Does the users' reward model prefer what their taste prefers? On ``config.n`` samples of
    ``policy`` per question: the taste of the reward model's pick against the samples' mean
    taste (what the best-of-n lever can gain on these questions), the same for the taste's own
    pick (``oracle``: the gain a perfect reward model would give), and the Pearson correlation of
    reward and taste within each question, averaged over questions with both varying."""
    import statistics

    from training.best_of_n import sample_answers
    from training.data import render_conversation
    from training.evaluate import load_causal_lm
    from training.reward import RewardScorer

    model, tokenizer = load_causal_lm(policy)
    scorer = RewardScorer.load(reward_dir)
    picked, oracle, means, correlations = [], [], [], []
    for i, question in enumerate(questions):
        answers = sample_answers(model, tokenizer, question, config, config.seed + i)
        rewards = scorer.score([render_conversation(question)] * len(answers), answers)
        tastes = [float(taste(question, a)) for a in answers]
        picked.append(tastes[max(range(len(answers)), key=rewards.__getitem__)])
        oracle.append(max(tastes))
        means.append(sum(tastes) / len(tastes))
        if len(set(rewards)) > 1 and len(set(tastes)) > 1:
            correlations.append(statistics.correlation(rewards, tastes))
    return {"n": config.n, **paired(picked, means), "oracle": paired(oracle, means),
            "mean_within_question_correlation": (sum(correlations) / len(correlations)
                                                 if correlations else None),
            "questions_with_varying_taste": len(correlations)}


def paired(values: list[float], baseline: list[float]) -> dict:
    """Mean of ``values`` and the mean paired difference against ``baseline``, 95% t interval."""
    import math

    from curation.stats import mean_interval

    diffs = [a - b for a, b in zip(values, baseline, strict=True)]
    n, mean = len(diffs), sum(diffs) / len(diffs)
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    return {"questions": n, "mean_score": sum(values) / n, "difference": mean,
            "difference_ci": list(mean_interval(mean, sd, n)) if sd else [0.0, 0.0]}


def cycle_settings(pairs: list[str]) -> dict:
    """``FIELD=VALUE`` strings as CycleConfig overrides; an unknown field is an error."""
    from dataclasses import fields

    from flywheel.cycle import CycleConfig

    known = {f.name for f in fields(CycleConfig)} - {"landing", "warehouse"}
    out = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or name not in known:
            raise ValueError(f"--cycle {pair!r}: expected FIELD=VALUE with FIELD one of "
                             f"{', '.join(sorted(known))}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out[name] = tuple(value) if isinstance(value, list) else value
    return out


def run_name(taste: str, levers: tuple[str, ...] | list[str], args: argparse.Namespace,
             overrides: dict) -> str:
    """The report's and work folder's name: every setting that changes the run but the days
    (which the report holds), so runs with different users, sampling or cycle settings never
    write the same file."""
    name = f"flywheel-{taste}-{'+'.join(levers)}-s{args.seed}"
    if args.users != 60:
        name += f"-u{args.users}"
    if args.side_by_side is not None:
        name += f"-ab{args.side_by_side:g}"
    if args.max_tokens is not None:
        name += f"-t{args.max_tokens}"
    if args.self_comparison:
        name += "-sc"
    for field, value in sorted(overrides.items()):
        text = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
        name += "-" + re.sub(r"[^A-Za-z0-9.,+]", "", f"{field.replace('_', '')}{text}")
    return name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taste", required=True)
    parser.add_argument("--days", type=int, default=4)
    parser.add_argument("--users", type=int, default=60)
    parser.add_argument("--vendor-users", type=int, default=300)
    parser.add_argument("--levers", default="sft,dpo", help="comma list of sft, bon, dpo (in order)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--side-by-side", type=float, default=None, metavar="RATE",
                        help="share of first turns asked side by side when the gateway offers it "
                             "(a challenger, or --self-comparison; default: UsersConfig's)")
    parser.add_argument("--self-comparison", action="store_true",
                        help="on days without a canary, side-by-side turns get two champion samples")
    parser.add_argument("--max-tokens", type=int, default=None, metavar="N",
                        help="tokens per answer the users ask for (default: UsersConfig's 48)")
    parser.add_argument("--cycle", action="append", default=[], metavar="FIELD=VALUE",
                        help="a flywheel.cycle.CycleConfig setting for the loop (or --ablate), e.g. dpo_epochs=4 "
                             "(repeatable; VALUE is read as JSON, else as a string)")
    parser.add_argument("--out", help="work folder (default: bench/out/flywheel-work/<name>)")
    parser.add_argument("--ablate", metavar="WORK",
                        help="instead of a loop: each lever alone and both, on a finished run's day-2 data")
    args = parser.parse_args(argv)
    try:
        overrides = cycle_settings(args.cycle)
    except ValueError as error:
        parser.error(str(error))
    if args.ablate:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        work = Path(args.ablate).resolve()
        os.environ["FLYWHEEL_PSEUDONYM_KEY_FILE"] = str(work / "pseudonym.key")
        result = ablate(work, args.taste, args.users, args.seed, overrides)
        print(f"levers on {result['fresh_interactions']} fresh interactions, taste {args.taste}:")
        for row in result["rows"]:
            low, high = row["difference_ci"]
            print(f"  {row['levers']:<19} mean taste {row['mean_score']:.3f}  vs champion "
                  f"{row['difference']:+.3f} [{low:+.3f}, {high:+.3f}]  ({row['questions']} questions)"
                  f"  degenerate greedy {row['degenerate_greedy']}/{row['eval_prompts']}")
        path = REPO / "bench" / "out" / f"flywheel-ablation-{work.name}.json"
        path.write_text(json.dumps(result, indent=2))
        for name, agreement in result["reward_agreement"].items():
            low, high = agreement["difference_ci"]
            print(f"  {name}'s reward model (held-out pair accuracy "
                  f"{agreement['eval_pairwise_accuracy']:.2f}): its pick of {agreement['n']} champion "
                  f"samples scores {agreement['difference']:+.3f} [{low:+.3f}, {high:+.3f}] over the "
                  f"samples' mean (the taste's own pick: {agreement['oracle']['difference']:+.3f}); "
                  f"within-question correlation of reward and taste "
                  f"{agreement['mean_within_question_correlation'] or 0:.2f} on "
                  f"{agreement['questions_with_varying_taste']} questions")
        print(f"wrote {path}")
        return 0
    levers = tuple(x for x in args.levers.split(",") if x)
    if not levers or set(levers) - {"sft", "bon", "dpo"}:
        parser.error(f"--levers {args.levers!r}: a comma list of sft, bon and dpo")
    if args.days < 3:
        parser.error("--days must be >= 3: day 1 is vendor logs, a candidate needs a day of users "
                     "and a day on the canary")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from dataclasses import replace

    from feedback.users.session import UsersConfig
    from feedback.users.tastes import taste_name
    from flywheel.demo import quiet_output, setup_environment
    from flywheel.loop import LoopConfig, compare_on_questions, cycle_config, format_days, run_loop

    name = run_name(taste_name(args.taste), levers, args, overrides)
    out = Path(args.out or REPO / "bench" / "out" / "flywheel-work" / name).resolve()
    if out.exists() and any(out.iterdir()):
        parser.error(f"{out} is not empty: remove it or give another --out")
    out.mkdir(parents=True, exist_ok=True)
    key_file = setup_environment(out)
    users_config = UsersConfig()
    if args.side_by_side is not None:
        users_config = replace(users_config, side_by_side_rate=args.side_by_side)
    if args.max_tokens is not None:
        users_config = replace(users_config, max_tokens=args.max_tokens)
    config = LoopConfig(out=str(out), taste=args.taste, days=args.days, users=args.users,
                        vendor_users=args.vendor_users, seed=args.seed, levers=levers,
                        self_comparison=args.self_comparison, users_config=users_config)
    config = replace(config, cycle_overrides={**config.cycle_overrides, **overrides})
    terminal = quiet_output(out / "bench.log")
    started = time.monotonic()
    result = run_loop(config, str(key_file), say=lambda line: print(line, file=terminal))
    cconfig = cycle_config(config, str(key_file))
    comparison = compare_on_questions(config, cconfig, config.day(args.days), result["first_champion"],
                                      result["final_champion"])
    verdict = checks(result, comparison, args.taste)
    seconds = time.monotonic() - started
    lines = [f"\n{name}: {args.days} days, {args.users} users a day, {seconds / 60:.1f} min", ""]
    lines += format_days(result)
    ci = comparison["difference_ci"]
    lines.append(f"\nsame users' questions ({comparison['questions']}, {comparison['day']}): served "
                 f"v{comparison['served_version']} {comparison['served_mean']:.3f} vs day-1 champion "
                 f"v{comparison['baseline_version']} {comparison['baseline_mean']:.3f}: difference "
                 f"{comparison['mean_difference']:+.3f} [{ci[0]:+.3f}, {ci[1]:+.3f}]")
    lines.append("checks: " + ", ".join(f"{k}={v}" for k, v in verdict.items() if k != "drops"))
    print("\n".join(lines), file=terminal)
    report = {"name": name, "taste": args.taste, "levers": list(levers), "days": args.days,
              "users": args.users, "vendor_users": args.vendor_users, "seed": args.seed,
              "side_by_side_rate": users_config.side_by_side_rate,
              "max_tokens": users_config.max_tokens, "self_comparison": args.self_comparison,
              "cycle_overrides": config.cycle_overrides,
              "seconds": seconds,
              "loop": result, "comparison": comparison, "checks": verdict,
              "command": " ".join(["bench/flywheel.py", *(argv or sys.argv[1:])])}
    path = REPO / "bench" / "out" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str))
    print(f"wrote {path}", file=terminal)
    if args.taste == "coin" and not verdict["never_promoted"]:
        print("FAIL: a candidate was promoted on users whose feedback is a fair coin", file=terminal)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

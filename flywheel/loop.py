"""The flywheel turning for real: day 1 is historic vendor logs and the first champion; every
later day simulated users talk to the gateway serving the champion (and the canary's
challenger), the cycle runs on what they said, and a promotion hot-swaps the gateway.

``run_loop`` is what ``make demo``, ``bench/flywheel.py`` and the loop test call. The users'
taste truth lives in ``OUT/taste_truth``, beside ``OUT/landing``; the system never reads it.
``taste_summary`` turns it into the per-day, per-version table the summary prints.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from curation.stats import mean_interval, wilson_interval
from feedback.users.session import UsersConfig

VENDOR_VERSION = "vendor-v1"


@dataclass(frozen=True)
class LoopConfig:
    out: str
    taste: str = "concise"  # MODULE:FUNCTION or a shipped name (feedback.users.tastes)
    days: int = 3  # day 1 (vendor logs) + days of users talking to the gateway
    users: int = 60  # simulated users a gateway day
    vendor_users: int = 300  # day 1's historic logs: 120 users gave a degenerate first model, 300 do not
    seed: int = 42
    start: str = "2026-11-01"
    prompts: str | None = None  # a JSONL prompt file; None: the simulator's topics
    canary_share: float = 0.5  # users on the challenger while it is on the canary
    levers: tuple[str, ...] = ("sft", "dpo")
    # Days without a canary: the gateway answers side_by_side with two champion samples, so the
    # users' picks rank the served model's own answers (serving.config.GatewayConfig).
    self_comparison: bool = False
    users_config: UsersConfig = field(default_factory=UsersConfig)
    # CycleConfig fields. The reward model only votes offline (the online check decides), so
    # the loop trains the small encoder from config on a bounded pair budget: MiniLM took
    # 2-3 min a day here on a shared 2-core machine, which alone broke the demo's 10 minutes.
    cycle_overrides: dict = field(default_factory=lambda: {"reward_base": "tiny",
                                                           "max_reward_pairs": 600})

    def day(self, n: int) -> str:
        return (dt.date.fromisoformat(self.start) + dt.timedelta(days=n - 1)).isoformat()

    @property
    def truth_dir(self) -> Path:
        return Path(self.out) / "taste_truth"


def cycle_config(config: LoopConfig, key_file: str | None):
    from flywheel.cycle import CycleConfig

    out = Path(config.out)
    return replace(CycleConfig(landing=str(out / "landing"), warehouse=str(out / "warehouse"),
                               pseudonym_key_file=key_file, continue_from_champion=True,
                               canary=True, levers=config.levers), **config.cycle_overrides)


def run_loop(config: LoopConfig, key_file: str | None, cycle_runner=None, say=print) -> dict:
    """Every day in order; {"days": [...]} with what was served, the users' scores, the gate."""
    from feedback import simulate
    from feedback.users import load_taste, read_truth, run_day
    from flywheel import cycle
    from flywheel.gateway_process import GatewayProcess
    from warehouse import files

    cycle_runner = cycle_runner or cycle.run_cycle
    cconfig = cycle_config(config, key_file)
    out = Path(config.out)
    taste = load_taste(config.taste)
    days: list[dict] = []
    day1 = config.day(1)
    say(f"day 1 ({day1}): historic logs of {config.vendor_users} users from the vendor model")
    # The simulator writes local files: for a landing zone on an object store it writes under
    # OUT/landing, and the day's folder is uploaded (its ground truth stays local).
    remote = files.is_url(cconfig.landing)
    staged = out / "landing" if remote else Path(cconfig.landing)
    simulate.simulate_day(landing=staged, date=day1, users=config.vendor_users,
                          seed=config.seed, model_versions=(VENDOR_VERSION,))
    if remote:
        files.put_tree(staged / f"dt={day1}", files.join(cconfig.landing, f"dt={day1}"))
    steps = cycle_runner(cconfig, day1)
    days.append({"day": day1, "traffic": "vendor logs", "gate": gate_outcome(steps)})
    for n in range(2, config.days + 1):
        day = config.day(n)
        champion, challenger = served_versions(cconfig)
        if champion is None:
            raise RuntimeError(f"no champion after {days[-1]['day']}: {days[-1]['gate']}")
        arms = f"champion v{champion}" + (f", canary v{challenger} for {config.canary_share:.0%} "
                                          "of users" if challenger else "")
        say(f"day {n} ({day}): {config.users} users talk to the gateway ({arms})")
        with GatewayProcess(cconfig.landing, cconfig.warehouse, day, out / "gateway.log",
                            challenger, config.canary_share,
                            self_comparison=config.self_comparison) as gateway:
            users = run_day(gateway.url, day, config.users, config.seed, taste, config.truth_dir,
                            config.prompts, config.users_config)
            if not gateway.wait_segments_closed():
                raise RuntimeError(f"the gateway kept a landing segment of {day} open")
            steps = cycle_runner(cconfig, day)
            gate = gate_outcome(steps)
            if gate.get("promoted"):
                label = f"flywheel-sft/{gate['to_version']}"
                gate["hot_swap_s"] = gateway.wait_for_champion(label)
        days.append({"day": day, "traffic": "users", "champion": champion, "challenger": challenger,
                     "users": users, "scores": taste_summary(read_truth(config.truth_dir, day)),
                     "gate": gate})
    final_champion, _ = served_versions(cconfig)
    return {"taste": config.taste, "days": days, "final_champion": final_champion,
            "first_champion": days[0]["gate"].get("to_version")}


def compare_on_questions(config: LoopConfig, cconfig, day: str, baseline: int, served: int) -> dict:
    """The users' opening questions of ``day`` asked of ``baseline`` and of ``served`` through a
    gateway (same sampling seed per question), each answer scored by the taste: the mean paired
    difference (served - baseline) with its 95% t interval. The replay lands in
    ``OUT/replay_landing``, never in the flywheel's landing zone."""
    import openai

    from feedback.users import load_taste
    from feedback.users.session import first_questions, request_seed
    from flywheel.gateway_process import GatewayProcess

    taste = load_taste(config.taste)
    questions = first_questions(config.seed, day, config.users, config.prompts, config.users_config)
    out = Path(config.out)
    with GatewayProcess(out / "replay_landing", cconfig.warehouse, day, out / "gateway.log",
                        challenger=baseline if baseline != served else None, instance="replay") as gateway:
        client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="unused", max_retries=0,
                               timeout=config.users_config.timeout_s)
        differences, scores = [], {"served": [], "baseline": []}
        for i, messages in enumerate(questions):
            pair = []
            for model in ("champion", f"flywheel-sft/{baseline}"):
                try:
                    answer = client.chat.completions.create(
                        model=model if baseline != served else "champion", messages=messages,
                        user=f"replay-{i}", max_tokens=config.users_config.max_tokens,
                        temperature=config.users_config.temperature,
                        seed=request_seed(config.seed, day, "replay", i))
                except openai.BadRequestError:  # too long for the model: not a comparison
                    break
                pair.append(float(taste(messages, answer.choices[0].message.content or "")))
            if len(pair) == 2:
                scores["served"].append(pair[0])
                scores["baseline"].append(pair[1])
                differences.append(pair[0] - pair[1])
    n = len(differences)
    mean = sum(differences) / n if n else math.nan
    sd = math.sqrt(sum((d - mean) ** 2 for d in differences) / (n - 1)) if n > 1 else None
    return {"day": day, "baseline_version": baseline, "served_version": served, "questions": n,
            "served_mean": sum(scores["served"]) / n if n else None,
            "baseline_mean": sum(scores["baseline"]) / n if n else None,
            "mean_difference": mean, "difference_ci": list(mean_interval(mean, sd, n))}


def served_versions(cconfig) -> tuple[int | None, int | None]:
    from flywheel.cycle import CHALLENGER_ALIAS, alias_version

    champion, challenger = alias_version(cconfig, "champion"), alias_version(cconfig, CHALLENGER_ALIAS)
    return (int(champion.version) if champion else None,
            int(challenger.version) if challenger else None)


def gate_outcome(steps: dict) -> dict:
    decision = steps["evaluate"]["decision"]
    promoted = steps["promote"]
    # the evaluation names the version it decided on: a retrain replaces an erased-from canary
    candidate = steps["evaluate"].get("version", steps["train_sft"].get("version"))
    out = {"candidate": candidate, "stage": decision.get("stage") or
           steps["train_sft"].get("stage"), "promoted": bool(promoted.get("promoted")),
           "canary": bool(promoted.get("canary")), "reason": decision.get("reason"),
           "to_version": promoted.get("to_version"), "levers": steps["train_sft"].get("levers")}
    if steps["train_sft"].get("retrained"):  # erasure tagged the canary: its retrain's outcome
        out["retrain"] = steps["train_sft"]["retrained"]
    if decision.get("promote") and not out["promoted"]:
        # the gate said promote, the promote step vetoed it (training.promote._still_valid: e.g. a
        # user in its training data asked for erasure since): say why the champion stayed
        out["reason"] = f"{promoted.get('reason')} (after {decision.get('reason')})"
    if "online" in steps["evaluate"]:
        online = steps["evaluate"]["online"]
        out["online"] = {k: online.get(k) for k in ("win_rate", "win_rate_ci", "comparisons",
                                                    "approval_difference", "approval_difference_ci",
                                                    "champion_approval", "challenger_approval")}
    return out


def taste_summary(rows: list[dict]) -> list[dict]:
    """Per model version: answers, mean taste score (t 95% CI), thumbs-up rate (Wilson 95% CI)."""
    out = []
    for version in sorted({r["model_version"] for r in rows if "score" in r}):
        scores = [r["score"] for r in rows if r.get("model_version") == version and "score" in r]
        thumbs = [r["value"] for r in rows if r.get("model_version") == version
                  and r.get("reaction") == "thumbs"]
        mean = sum(scores) / len(scores)
        sd = math.sqrt(sum((s - mean) ** 2 for s in scores) / (len(scores) - 1)) if len(scores) > 1 else None
        up = sum(v == 1 for v in thumbs)
        out.append({"model_version": version, "answers": len(scores), "mean_score": mean,
                    "score_ci": list(mean_interval(mean, sd, len(scores))), "thumbs": len(thumbs),
                    "thumbs_up_rate": up / len(thumbs) if thumbs else None,
                    "thumbs_up_ci": list(wilson_interval(up, len(thumbs))) if thumbs else None})
    return out


def format_days(result: dict) -> list[str]:
    """The summary's table: one line per day and served version, then the gate's decision."""
    lines = [f"{'day':<11} {'version':<15} {'answers':>7}  {'mean taste [95% CI]':<24} "
             f"{'thumbs-up [95% CI]':<22}"]
    for day in result["days"]:
        for row in day.get("scores", []):
            ci, up = row["score_ci"], row["thumbs_up_rate"]
            score = f"{row['mean_score']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"
            thumbs = (f"{up:.2f} [{row['thumbs_up_ci'][0]:.2f}, {row['thumbs_up_ci'][1]:.2f}]"
                      if up is not None else "-")
            lines.append(f"{day['day']:<11} {row['model_version']:<15} {row['answers']:>7}  "
                         f"{score:<24} {thumbs:<22}")
        lines.append(f"{day['day']:<11} gate: {describe_gate(day['gate'])}")
    return lines


def describe_gate(gate: dict) -> str:
    if gate["promoted"]:
        verdict = f"PROMOTE v{gate['candidate']}"
        if gate.get("hot_swap_s") is not None:
            verdict += f" (gateway hot-swapped in {gate['hot_swap_s']:.1f} s)"
    elif gate["canary"]:
        verdict = f"CANARY v{gate['candidate']} (offline checks passed; users decide tomorrow)"
    elif gate["candidate"] is None:
        verdict = "no candidate"
    else:
        verdict = f"KEEP CHAMPION (v{gate['candidate']} refused)"
    online = gate.get("online") or {}
    detail = ""
    if online.get("win_rate") is not None:
        low, high = online["win_rate_ci"]
        detail = f"; side-by-side win rate {online['win_rate']:.2f} [{low:.2f}, {high:.2f}] over {online['comparisons']}"
    elif online.get("approval_difference") is not None:
        low, high = online["approval_difference_ci"]
        detail = f"; approval difference {online['approval_difference']:+.2f} [{low:+.2f}, {high:+.2f}]"
    return f"{verdict}: {gate['reason']}{detail}"

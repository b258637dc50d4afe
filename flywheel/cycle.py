"""The daily flywheel cycle as plain, idempotent steps keyed by the day.

The Airflow DAG (``dags/user_data_flywheel.py``) runs each step as one task and the demo
(``flywheel.demo``) calls them in order; both pass paths and ids, never data. Every step can be
rerun for the same day and gives the same result without duplicating anything: curation replaces
the day's partitions, dataset ids are content hashes, a model already trained on a dataset is
reused rather than registered again, and promotion records are keyed by the day.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace

log = logging.getLogger("flywheel.cycle")


@dataclass(frozen=True)
class CycleConfig:
    landing: str
    warehouse: str
    # Extra Beam pipeline options for the curation job (e.g. "--runner=DataflowRunner", ...).
    beam_args: tuple[str, ...] = ()
    pseudonym_key_file: str | None = None
    # Training window: a week of feedback, as in curation.datasets.DatasetConfig.
    window_days: int = 7
    eval_fraction: float = 0.2  # small daily sets need a larger eval share for a usable CI
    sft_base: str = "tiny"  # "tiny" (built from config, demo/CI) | "champion" | a model path
    reward_base: str = "minilm"  # the pretrained MiniLM encoder the package ships
    # A model built from config learns from scratch: it needs a far higher rate and more passes
    # than fine-tuning a pretrained base (measured on the demo's data: 6 epochs at 3e-3 reach
    # 1.1 bits/byte and coherent answers; 2 epochs at 2e-4 answer nothing).
    sft_epochs: float = 6.0
    sft_learning_rate: float | None = None  # None: 3e-3 for "tiny", else SFTTrainConfig's
    sft_max_length: int = 256  # tokens; demo conversations are short, CPU time is linear in it
    reward_epochs: float | None = None  # None: RewardTrainConfig's (early stopping picks the epoch)
    max_reward_pairs: int | None = 2000  # bounds CPU time; GPUs lift it
    eval_prompts: int = 48
    # Curated landing days older than this many days are deleted after erasure; None keeps
    # the raw landing zone (it is the only copy that can re-curate a day).
    landing_retention_days: int | None = None
    # Learning from users (docs/training.md, "Learning from what users said"): once a champion
    # serves, the candidate continues from it on the feedback that arrived since it was
    # trained, with these levers in order ("sft": well-rated and user-edited answers; "bon": the
    # reward model's best of n own samples per prompt; "dpo": the preference pairs). False:
    # every candidate is trained from scratch on the whole window.
    continue_from_champion: bool = False
    levers: tuple[str, ...] = ("sft", "dpo")
    continue_epochs: float = 3.0  # a few passes over a day's feedback: tens to hundreds of rows
    continue_learning_rate: float = 3e-4  # 1e-3 made greedy loops on 47-65 fresh rows (docs/training.md)
    dpo_epochs: float = 2.0
    dpo_learning_rate: float = 1e-4  # 5e-4 made the demo's model babble (docs/training.md)
    dpo_beta: float = 0.1
    bon_n: int = 4  # samples per prompt for the "bon" lever (training.best_of_n)
    # Two-stage gate: a candidate that passes the offline checks against a champion serves the
    # canary for a day (registry alias "challenger"), and the online check on that traffic
    # decides its promotion. False: the offline checks alone promote (no canary traffic).
    canary: bool = False
    webhook: str | None = None  # called with the deployment manifest on promotion
    redeploy_command: str | None = None
    tracking_uri: str | None = None  # default: sqlite under the warehouse
    extra: dict = field(default_factory=dict)


class NoLandingData(RuntimeError):
    pass


def check_landing(config: CycleConfig, day: str) -> dict:
    """Files and bytes in the day's landing partition; fails in words when there are none."""
    from pipelines import landing

    try:
        selection = landing.select_files(config.landing, day)
    except landing.NoLandingFiles as exc:
        raise NoLandingData(str(exc)) from None
    return {"day": day, "files": len(selection.files),
            "bytes": int(sum(f.size for f in selection.files)),
            "skipped_files": len(selection.skipped)}


def curate_day(config: CycleConfig, day: str) -> dict:
    from pipelines import curate

    argv = ["--landing", config.landing, "--warehouse", config.warehouse, "--date", day]
    if config.pseudonym_key_file:
        argv += ["--pseudonym-key-file", config.pseudonym_key_file]
    result = curate.run(argv + list(config.beam_args))
    return {"day": day, "run_id": result["run_id"], "seconds": round(result["seconds"], 1)}


def erase_requested(config: CycleConfig, day: str) -> dict:
    """Complete the day's deletion requests in the warehouse, its datasets, the registry and
    the landing zone; then drop curated landing days past the retention, when one is set."""
    from governance import erase, landing_erasure
    from warehouse import pseudonym

    ring = pseudonym.load_key_ring(config.pseudonym_key_file)
    summary = erase.erase(config.warehouse, as_of=day, tracking_uri=config.tracking_uri,
                          landing=config.landing, key_ring=ring)
    if config.landing_retention_days is not None:
        summary["retention"] = landing_erasure.apply_retention(
            config.landing, config.warehouse, day, config.landing_retention_days)
    return summary


def publish(config: CycleConfig, day: str) -> dict:
    """The analysts' DuckDB catalog and the day's HTML report.

    On an object store there is no catalog file: its views would read ``s3://`` files, which
    DuckDB does only through an extension it may not download here; analysts run
    ``python -m curation.inspect --warehouse URL`` (Arrow datasets) instead.
    """
    from curation import report
    from curation.inspect import write_catalog
    from warehouse import files, layout

    html = report.write_report(config.warehouse, layout.report_path(config.warehouse, day))
    if files.is_url(config.warehouse):
        return {"report": str(html), "catalog": None}
    catalog = write_catalog(config.warehouse, layout.catalog_path(config.warehouse))
    return {"report": str(html), "catalog": str(catalog)}


def build_dataset(config: CycleConfig, day: str) -> dict:
    from curation.datasets import DatasetConfig, build_dataset, load_manifest

    dataset_id, path = build_dataset(
        config.warehouse, day,
        DatasetConfig(window_days=config.window_days, eval_fraction=config.eval_fraction))
    manifest = load_manifest(config.warehouse, dataset_id)
    return {"dataset_id": dataset_id, "path": str(path), "counts": manifest.get("counts", {})}


def _existing_version(config: CycleConfig, model_name: str, dataset_id: str, kind: str):
    """A registered version already trained on this dataset with this kind, if any."""
    from training import registry

    client = registry.connect(config.warehouse, config.tracking_uri)
    # An unknown model name is an empty list, not an error: any exception here is a real failure.
    versions = client.search_model_versions(f"name = '{model_name}'")
    matching = [v for v in versions
                if (v.tags or {}).get("dataset_id") == dataset_id
                and (v.tags or {}).get("kind", kind) == kind]
    return max(matching, key=lambda v: int(v.version)) if matching else None


def train_reward_model(config: CycleConfig, dataset_id: str) -> dict:
    from training.config import REWARD_MODEL_NAME, RewardTrainConfig
    from training.reward import train_reward

    existing = _existing_version(config, REWARD_MODEL_NAME, dataset_id, "reward")
    if existing is not None:
        return {"version": int(existing.version), "reused": True,
                "metrics": _metrics_of(config, existing)}
    # The improved reward model's defaults (bench/reward_real.py); the cycle sets base and size.
    reward_config = RewardTrainConfig(base=config.reward_base, max_train_pairs=config.max_reward_pairs)
    if config.reward_epochs is not None:
        reward_config = replace(reward_config, epochs=config.reward_epochs)
    info = train_reward(config.warehouse, dataset_id, tracking_uri=config.tracking_uri,
                        config=reward_config)
    return {"version": int(info["version"]), "reused": False, "metrics": info["metrics"]}


CHALLENGER_ALIAS = "challenger"  # the candidate on the canary, between the two gate stages


def alias_version(config: CycleConfig, alias: str):
    """The ``flywheel-sft`` version an alias (champion, challenger) points at, or None."""
    from training import registry
    from training.config import SFT_MODEL_NAME

    client = registry.connect(config.warehouse, config.tracking_uri)
    return registry.alias_version(client, SFT_MODEL_NAME, alias)


def fresh_event_ids(config: CycleConfig, after_day: str, day: str) -> set[str]:
    """Interactions curated for the days after ``after_day`` up to ``day``: what users said
    since the champion's dataset was built."""
    from curation import views

    con = views.connect(config.warehouse)
    rows = con.execute("SELECT event_id FROM interactions WHERE dt > CAST(? AS DATE) "
                       "AND dt <= CAST(? AS DATE)", [after_day, day]).fetchall()
    return {row[0] for row in rows}


def _champion_since(config: CycleConfig, day: str):
    """(champion version, its checkpoint, the interactions since its dataset) or None."""
    champion = alias_version(config, "champion")
    if champion is None:
        return None
    path, as_of = _champion_checkpoint(config, champion)
    return champion, path, fresh_event_ids(config, as_of or day, day)


def _champion_checkpoint(config: CycleConfig, champion):
    """(the champion's local checkpoint, the day its dataset was built as of)."""
    from training import registry

    path = registry.local_model_dir(champion)
    return path, json.loads((path / "meta.json").read_text()).get("dataset_as_of")


def train_candidate(config: CycleConfig, dataset_id: str, day: str | None = None) -> dict:
    from training.config import SFT_MODEL_NAME

    if config.canary:
        pending = alias_version(config, CHALLENGER_ALIAS)
        # Its canary day: the online check decides and nothing new trains, unless erasure tagged
        # the challenger since and the canary won: then its recipe again without those users.
        if pending is not None:
            out = {"version": int(pending.version), "reused": True, "stage": "canary",
                   "metrics": _metrics_of(config, pending)}
            if _erased_since(pending) and day and _canary_won(config, int(pending.version), day):
                out["retrained"] = retrain_without_erased(config, pending)
            return out
    existing = _existing_version(config, SFT_MODEL_NAME, dataset_id, "sft")
    if existing is not None:
        return {"version": int(existing.version), "reused": True, "stage": "offline",
                "metrics": _metrics_of(config, existing)}
    since = _champion_since(config, day) if config.continue_from_champion and day else None
    if since is not None:
        return _continue_from_champion(config, dataset_id, *since)
    return _train_from_scratch(config, dataset_id)


def _train_from_scratch(config: CycleConfig, dataset_id: str, tags: dict | None = None) -> dict:
    from training.config import SFTTrainConfig
    from training.sft import train_sft

    learning_rate = config.sft_learning_rate or (
        3e-3 if config.sft_base == "tiny" else SFTTrainConfig.learning_rate)
    info = train_sft(config.warehouse, dataset_id, tracking_uri=config.tracking_uri,
                     config=SFTTrainConfig(base=config.sft_base, epochs=config.sft_epochs,
                                           learning_rate=learning_rate,
                                           max_length=config.sft_max_length), tags=tags)
    return {"version": int(info["version"]), "reused": False, "stage": "offline",
            "metrics": info["metrics"]}


RETRAIN_TAG = "retrain_of"  # on a version retrained without erased users: the canary version


def _erased_since(version) -> bool:
    from governance.erase_downstream import ERASED_TAG

    return (version.tags or {}).get(ERASED_TAG, "false") == "true"


def _canary_won(config: CycleConfig, version: int, day: str) -> bool:
    """The online check on today's canary traffic says promote (``evaluate_online`` decides the
    same from the same rows); only then is a retrain without erased users worth its CPU."""
    from training.config import SFT_MODEL_NAME
    from training.online import online_decision

    champion = alias_version(config, "champion")
    if champion is None:
        return False
    evidence = online_evidence(config, day, f"{SFT_MODEL_NAME}/{champion.version}",
                               f"{SFT_MODEL_NAME}/{version}")
    return online_decision(evidence)[0]


def retrain_without_erased(config: CycleConfig, challenger) -> dict:
    """The challenger's recipe again, without the users who asked for erasure since it trained.

    Erasure scrubbed the challenger's dataset and tagged the version, so promotion refuses it
    (``training.promote._still_valid``). This rebuilds the dataset for the same day from the
    tables as they are now (a new id: the old rows less the erased users') and trains the same
    recipe with the same seed: from the same champion on the same days' feedback when the
    challenger continued from it, from scratch otherwise. Idempotent: a version already trained
    on the rebuilt dataset is reused. Returns the new version (None, with a reason, when nothing
    can be retrained) and the dataset it read.
    """
    from curation.datasets import DatasetConfig, build_dataset
    from training import registry
    from training.config import SFT_MODEL_NAME
    from training.data import DatasetError

    old_id = (challenger.tags or {}).get("dataset_id")
    meta = json.loads((registry.local_model_dir(challenger) / "meta.json").read_text())
    as_of = meta.get("dataset_as_of")
    if not old_id or not as_of:
        return {"version": None, "reason": "challenger_records_no_dataset_day"}
    dataset_id, _ = build_dataset(
        config.warehouse, as_of,
        DatasetConfig(window_days=config.window_days, eval_fraction=config.eval_fraction))
    out = {"of_version": int(challenger.version), "dataset_id": dataset_id, "as_of": as_of,
           "erased_from_dataset_id": old_id}
    existing = _existing_version(config, SFT_MODEL_NAME, dataset_id, "sft")
    if existing is not None:
        return {**out, "version": int(existing.version), "reused": True}
    tags = {RETRAIN_TAG: str(challenger.version)}
    base_version = (challenger.tags or {}).get("base_version")
    try:
        if base_version is None:
            trained = _train_from_scratch(config, dataset_id, tags=tags)
        else:
            champion = alias_version(config, "champion")
            if champion is None or str(champion.version) != base_version:
                return {**out, "version": None, "reason": "champion_changed_since_canary"}
            path, since = _champion_checkpoint(config, champion)
            trained = _continue_from_champion(config, dataset_id, champion, path,
                                              fresh_event_ids(config, since, as_of), tags=tags)
    except DatasetError as error:  # e.g. the erased users' rows were all the feedback there was
        return {**out, "version": None, "reason": f"retrain_failed: {error}"}
    if trained.get("version") is None:
        return {**out, "version": None, "reason": trained.get("reason")}
    return {**out, "version": trained["version"], "reused": False, "levers": trained.get("levers")}


def _continue_from_champion(config: CycleConfig, dataset_id: str, champion, path,
                            event_ids: set[str], tags: dict | None = None) -> dict:
    """The levers in order, each from the previous one's checkpoint; the last one registers."""
    from training.config import SFTTrainConfig
    from training.data import DatasetError
    from training.dpo import DPOTrainConfig, train_dpo
    from training.reward import default_out
    from training.sft import train_sft

    base, used, metrics, info = str(path), [], {}, None
    for lever in config.levers:
        last = lever == config.levers[-1]
        try:
            if lever == "sft":
                sft_config = SFTTrainConfig(base=base, epochs=config.continue_epochs,
                                            learning_rate=config.continue_learning_rate,
                                            max_length=config.sft_max_length)
                info = train_sft(config.warehouse, dataset_id, config=sft_config, register=last,
                                 tracking_uri=config.tracking_uri, event_ids=event_ids, tags=tags,
                                 out=default_out(config.warehouse, f"sft-from-v{champion.version}",
                                                 dataset_id, sft_config))
            elif lever == "dpo":
                dpo_config = DPOTrainConfig(epochs=config.dpo_epochs, beta=config.dpo_beta,
                                            learning_rate=config.dpo_learning_rate)
                info = train_dpo(config.warehouse, dataset_id, base, config=dpo_config,
                                 register=True, tracking_uri=config.tracking_uri,
                                 event_ids=event_ids, levers=(*used, "dpo"),
                                 base_version=int(champion.version), tags=tags)
            elif lever == "bon":
                info = _best_of_n(config, dataset_id, base, champion, event_ids, last, used, tags)
            else:
                raise ValueError(f"unknown lever {lever!r} (expected sft, bon or dpo)")
        except DatasetError as error:  # no fresh rows or pairs for this lever today
            log.warning("lever %s skipped: %s", lever, error)
            continue
        used.append(lever)
        base = info["model_dir"]
        metrics.update(info["metrics"])
    if info is None or "version" not in info:
        return {"version": None, "reused": False, "stage": "none", "levers": used,
                "reason": "no_fresh_feedback", "metrics": metrics}
    return {"version": int(info["version"]), "reused": False, "stage": "offline", "levers": used,
            "base_version": int(champion.version), "fresh_interactions": len(event_ids),
            "metrics": metrics}


def _best_of_n(config: CycleConfig, dataset_id: str, base: str, champion, event_ids: set[str],
               register: bool, used: list[str], tags: dict | None) -> dict:
    """The ``bon`` lever: SFT from ``base`` on its best-of-n samples for the users' prompts, as
    scored by the reward model trained on this dataset (training.best_of_n)."""
    from training import registry
    from training.best_of_n import BestOfNConfig, train_best_of_n
    from training.config import REWARD_MODEL_NAME, SFTTrainConfig
    from training.data import DatasetError
    from training.reward import default_out

    reward = _existing_version(config, REWARD_MODEL_NAME, dataset_id, "reward")
    if reward is None:
        raise DatasetError(f"no reward model trained on dataset {dataset_id}")
    bon_config = BestOfNConfig(n=config.bon_n, seed=int(champion.version))
    sft_config = SFTTrainConfig(base=base, epochs=config.continue_epochs,
                                learning_rate=config.continue_learning_rate,
                                max_length=config.sft_max_length)
    return train_best_of_n(config.warehouse, dataset_id, base, registry.local_model_dir(reward),
                           config=bon_config, sft_config=sft_config, register=register,
                           tracking_uri=config.tracking_uri, event_ids=event_ids,
                           levers=(*used, "bon"), base_version=int(champion.version), tags=tags,
                           out=default_out(config.warehouse, f"bon-from-v{champion.version}-"
                                           f"{'+'.join(used) or 'champion'}", dataset_id, bon_config))


def _metrics_of(config: CycleConfig, version) -> dict:
    from training import registry

    client = registry.connect(config.warehouse, config.tracking_uri)
    if not version.run_id:
        return {}
    return dict(client.get_run(version.run_id).data.metrics)


def evaluate_candidate(config: CycleConfig, dataset_id: str, candidate: dict | int,
                       reward_version: int, day: str | None = None) -> dict:
    """The offline checks for a freshly trained candidate; the online check for the one that
    served the canary today. ``candidate``: train_candidate's result, or a version number."""
    from training.config import EvalConfig
    from training.evaluate import evaluate

    if not isinstance(candidate, dict):
        candidate = {"version": int(candidate), "stage": "offline"}
    if candidate.get("version") is None:
        return {"evaluation": None, "decision": {"promote": False, "reason": candidate["reason"]},
                "candidate": None, "champion": None}
    if candidate.get("stage") == "canary":
        return evaluate_online(config, candidate["version"], day,
                               retrained=candidate.get("retrained"), reward_version=reward_version)
    since = _champion_since(config, day) if config.continue_from_champion and day else None
    path = evaluate(str(candidate["version"]), "champion", str(reward_version),
                    warehouse=config.warehouse, dataset_id=dataset_id,
                    config=EvalConfig(max_prompts=config.eval_prompts),
                    tracking_uri=config.tracking_uri,
                    eval_event_ids=since[2] if since else None, canary=config.canary)
    report = json.loads(_path(path).read_text())
    return {"evaluation": path, "decision": report["decision"],
            "candidate": report["candidate"], "champion": report["champion"]}


def online_evidence(config: CycleConfig, day: str, champion_label: str, challenger_label: str):
    """The day's curated feedback on each arm (``training.online.OnlineEvidence``). Side-by-side
    picks count only between the two arms: a pick between two samples of one version (the
    gateway's ``--self-comparison``) says nothing about the challenger."""
    from curation import views
    from training.online import ArmVotes, OnlineEvidence

    con = views.connect(config.warehouse)
    labels = [champion_label, challenger_label]
    rows = con.execute(
        "SELECT model_version, sum(n_thumbs_up + CASE WHEN n_ratings > 0 AND mean_rating >= 4 "
        "THEN n_ratings ELSE 0 END), sum(n_thumbs_down + CASE WHEN n_ratings > 0 AND "
        "mean_rating <= 2 THEN n_ratings ELSE 0 END) FROM rated_interactions "
        "WHERE dt = CAST(? AS DATE) AND model_version IN (?, ?) GROUP BY model_version",
        [day, *labels]).fetchall()
    votes = {version: (int(up or 0), int(down or 0)) for version, up, down in rows}
    wins = dict(con.execute(
        "SELECT CASE WHEN f.preferred = 'this' THEN a.model_version ELSE b.model_version END, "
        "count(*) FROM feedback_events AS f "
        "JOIN interactions AS a ON a.event_id = f.interaction_id "
        "JOIN interactions AS b ON b.event_id = f.other_interaction_id "
        "WHERE f.kind = 'comparison' AND a.dt = CAST(? AS DATE) AND a.model_version IN (?, ?) "
        "AND b.model_version IN (?, ?) AND a.model_version <> b.model_version GROUP BY 1",
        [day, *labels, *labels]).fetchall())
    champion, challenger = votes.get(champion_label, (0, 0)), votes.get(challenger_label, (0, 0))
    return OnlineEvidence(ArmVotes(*champion), ArmVotes(*challenger),
                          challenger_wins=int(wins.get(challenger_label, 0)),
                          champion_wins=int(wins.get(champion_label, 0)))


def evaluate_online(config: CycleConfig, candidate_version: int, day: str,
                    retrained: dict | None = None, reward_version: int | None = None) -> dict:
    """The online check on today's canary traffic; its report beside the offline ones.

    ``retrained``: ``retrain_without_erased``'s result when erasure tagged the canary version
    since it trained. When the canary won and a retrained version exists, that version takes
    the offline checks against the champion and, passing them, is the one promoted on the
    canary's evidence (the two differ by the erased users' rows only); the report and the
    ``deployments`` row's reason name both versions. Returns the version to act on as
    ``"version"``.
    """
    from training.config import SFT_MODEL_NAME
    from training.evaluate import EvalResult
    from training.online import online_decision

    champion = alias_version(config, "champion")
    offline_path = _offline_report(config, candidate_version, int(champion.version))
    offline = json.loads(offline_path.read_text())  # a Path, or a UPath on a store
    evidence = online_evidence(config, day, f"{SFT_MODEL_NAME}/{champion.version}",
                               f"{SFT_MODEL_NAME}/{candidate_version}")
    promote, reason, stats = online_decision(evidence)
    report = {"dataset_id": offline.get("dataset_id"), "day": day, "stage": "online",
              "candidate": offline["candidate"], "champion": offline["champion"],
              "offline_evaluation": str(offline_path), "online": stats,
              "decision": {"promote": promote, "reason": reason, "stage": "online"}}
    EvalResult.from_dict(report["candidate"])  # the offline report is one training.evaluate wrote
    version = int(candidate_version)
    if retrained is not None:
        report["retrain"] = retrained
    if promote and retrained is not None and retrained.get("version") is not None:
        version = int(retrained["version"])
        report = _retrained_report(config, report, retrained, int(champion.version), reward_version)
    out = _write_online_report(config, day, version, int(champion.version), report)
    return {"evaluation": out, "decision": report["decision"], "online": stats, "version": version,
            "candidate": report["candidate"], "champion": report["champion"]}


def _retrained_report(config: CycleConfig, report: dict, retrained: dict, champion: int,
                      reward_version: int | None) -> dict:
    """The online report re-addressed to the retrained version, after its offline checks."""
    from training.config import EvalConfig
    from training.evaluate import evaluate

    canary, version = retrained["of_version"], int(retrained["version"])
    path = _existing_offline_report(config, version, champion)
    if path is None:
        _, since = _champion_checkpoint(config, alias_version(config, "champion"))
        events = fresh_event_ids(config, since, retrained["as_of"]) if since else None
        path = evaluate(str(version), "champion", str(reward_version) if reward_version else None,
                        warehouse=config.warehouse, dataset_id=retrained["dataset_id"],
                        config=EvalConfig(max_prompts=config.eval_prompts),
                        tracking_uri=config.tracking_uri, eval_event_ids=events, canary=True)
    offline = json.loads(_path(path).read_text())
    passed = bool(offline["decision"].get("promote") or offline["decision"].get("canary"))
    won = report["decision"]["reason"]
    if passed:
        decision = {"promote": True, "stage": "online", "canary_version": canary,
                    "reason": f"{won} (canary v{canary}; retrained v{version} without the "
                              f"users erased since)"}
    else:
        decision = {"promote": False, "stage": "online", "canary_version": canary,
                    "reason": f"retrained_without_erased_users_failed_offline: "
                              f"{offline['decision']['reason']} (v{version}, canary v{canary} "
                              f"won: {won})"}
    return {**report, "dataset_id": retrained["dataset_id"], "candidate": offline["candidate"],
            "champion": offline["champion"], "offline_evaluation": str(path),
            "canary_evaluation": report["offline_evaluation"], "decision": decision}


def _write_online_report(config: CycleConfig, day: str, version: int, champion: int,
                         report: dict) -> str:
    from warehouse import files

    out = files.join(config.warehouse, "evaluations", "online", f"dt={day}",
                     f"v{version}-vs-v{champion}.json")
    # atomic: a temp file and os.replace locally, one whole-object PUT on an object store
    files.atomic_write(out, json.dumps(report, indent=2, sort_keys=True, default=str))
    return out


def _path(location):
    from warehouse import files

    return files.path(location)


def _existing_offline_report(config: CycleConfig, candidate_version: int,
                             champion_version: int):
    found = sorted((_path(config.warehouse) / "evaluations").glob(
        f"*/v{candidate_version}-vs-v{champion_version}.json"))
    return found[-1] if found else None


def _offline_report(config: CycleConfig, candidate_version: int, champion_version: int):
    found = _existing_offline_report(config, candidate_version, champion_version)
    if found is None:
        raise FileNotFoundError(f"no offline evaluation of v{candidate_version} against "
                                f"v{champion_version} under {config.warehouse}/evaluations")
    return found


def promote_or_keep(config: CycleConfig, day: str, candidate_version: int | None,
                    evaluation: str | None, decision: dict | None = None) -> dict:
    """Acts on the gate decision the evaluation recorded: moves the alias when it says promote,
    sends the candidate to the canary when it says so, records the refusal otherwise."""
    from training import registry
    from training.config import SFT_MODEL_NAME
    from training.promote import promote

    client = registry.connect(config.warehouse, config.tracking_uri)
    champion = alias_version(config, "champion")
    current = int(champion.version) if champion is not None else None
    decision = decision or {}
    if candidate_version is None:
        return {"promoted": False, "reason": decision.get("reason"), "from_version": current,
                "to_version": current, "recorded": False, "redeploy": {}}
    if decision.get("canary"):
        client.set_registered_model_alias(SFT_MODEL_NAME, CHALLENGER_ALIAS, str(candidate_version))
        return {"promoted": False, "canary": True, "challenger": int(candidate_version),
                "reason": decision["reason"], "from_version": current, "to_version": current,
                "recorded": False, "redeploy": {}}
    outcome = promote(config.warehouse, candidate_version, evaluation, run_key=f"cycle:{day}",
                      webhook=config.webhook, command=config.redeploy_command,
                      tracking_uri=config.tracking_uri)
    if decision.get("stage") == "online" and alias_version(config, CHALLENGER_ALIAS) is not None:
        client.delete_registered_model_alias(SFT_MODEL_NAME, CHALLENGER_ALIAS)  # canary is over
    return outcome


def keep_champion(config: CycleConfig, day: str, candidate_version: int, evaluation: str) -> dict:
    """Records the gate's refusal and its reason; never touches the alias."""
    from training.promote import record_kept

    return record_kept(config.warehouse, candidate_version, evaluation, run_key=f"cycle:{day}",
                       tracking_uri=config.tracking_uri)


# The day's steps, in order: run_cycle runs them, the demo's progress bar counts them, and the
# DAG has one task per step (its "promote" step is the gate with two branches,
# promote_and_redeploy and keep_champion). tests/dags checks the DAG against this list.
STEPS = ("check_landing", "curate", "erase", "publish", "build_dataset", "train_reward",
         "train_sft", "evaluate", "promote")


def run_cycle(config: CycleConfig, day: str, progress=None) -> dict:
    """Every step for one day, in ``STEPS`` order; returns what each step returned."""
    steps: dict[str, dict] = {}

    def step(name, fn, *args):
        if name != STEPS[len(steps)]:
            raise RuntimeError(f"step {name!r} out of order (STEPS says {STEPS[len(steps)]!r})")
        if progress is not None:
            progress(name)
        steps[name] = fn(*args)
        return steps[name]

    step("check_landing", check_landing, config, day)
    step("curate", curate_day, config, day)
    step("erase", erase_requested, config, day)
    step("publish", publish, config, day)
    dataset = step("build_dataset", build_dataset, config, day)
    reward = step("train_reward", train_reward_model, config, dataset["dataset_id"])
    candidate = step("train_sft", train_candidate, config, dataset["dataset_id"], day)
    evaluation = step("evaluate", evaluate_candidate, config, dataset["dataset_id"],
                      candidate, reward["version"], day)
    # the evaluation names the version to act on: a retrained one replaces an erased-from canary
    step("promote", promote_or_keep, config, day, evaluation.get("version", candidate["version"]),
         evaluation["evaluation"], evaluation["decision"])
    return steps

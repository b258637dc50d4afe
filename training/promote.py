"""Promotion: move the ``champion`` alias only when the gate passes, record it, redeploy.

    python -m training.promote --warehouse DIR --candidate-version N [--evaluation FILE]
        [--run-key KEY] [--webhook URL] [--redeploy-command CMD] [--tracking-uri URI]

The decision is the one ``training.evaluate`` recorded in the evaluation JSON; promotion acts on
it and only vetoes it when a fact changed since (the champion moved, erasure tagged the
candidate). Every promotion, refusal and rollback is a row of the ``deployments`` table
(the Delta table ``WAREHOUSE/deployments``, one commit per row). A row's key is (run_key,
action, model name, from/to version, number of alias moves before it): a retried run adds
nothing, while promoting the same version again after a rollback is a new row. A promotion writes
``WAREHOUSE/serving/deployment.json`` atomically (serving watches it) and, when configured, POSTs
it to a webhook and/or runs a shell command with ``DEPLOYMENT_JSON`` set to its path.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pyarrow as pa

from training import registry
from training.config import CHAMPION_ALIAS, SFT_MODEL_NAME
from training.evaluate import EvalResult
from warehouse import files as storage
from warehouse import layout, schemas, tables

DEPLOYMENTS = schemas.DEPLOYMENTS


class PromotionError(RuntimeError):
    """A promotion or rollback that cannot proceed; the message says why and what to do."""


def deployments_uri(warehouse: str | Path) -> str:
    return tables.table_uri(str(warehouse), "deployments")


def read_deployments(warehouse: str | Path) -> list[dict]:
    """Every row in the order it was added (each append is one file, numbered)."""
    paths = [p for day in tables.files_by_day(str(warehouse), "deployments").values() for p in day]
    paths.sort(key=lambda p: p.rsplit("/", 1)[-1])
    return [row for p in paths for row in storage.read_parquet(p, schema=DEPLOYMENTS).to_pylist()]


def alias_moves(rows: list[dict], model_name: str) -> int:
    return sum(r["model_name"] == model_name and r["action"] in ("promote", "rollback") for r in rows)


def append_deployment(warehouse: str | Path, row: dict) -> bool:
    """Add ``row`` unless a row with the same key exists; True when it was added."""
    rows = read_deployments(warehouse)
    parts = [str(row[k]) for k in ("run_key", "action", "model_name", "from_version", "to_version")]
    key = "|".join([*parts, str(alias_moves(rows, row["model_name"]))])
    row = {**row, "deployment_id": hashlib.sha256(key.encode()).hexdigest()[:16]}
    if any(existing["deployment_id"] == row["deployment_id"] for existing in rows):
        return False
    at = row.get("at") or dt.datetime.now(dt.UTC)
    name = f"deploy-{len(rows):08d}-{row['deployment_id']}.parquet"
    path = f"{deployments_uri(warehouse)}/dt={at.date().isoformat()}/{name}"
    storage.write_parquet(pa.Table.from_pylist([{**row, "at": at}], schema=DEPLOYMENTS), path)
    # One Delta commit; its application transaction makes a retried append add nothing.
    added = tables.commit(str(warehouse), "deployments", add=[path],
                          app=(f"deployment/{row['deployment_id']}", 1),
                          metadata={"job": "deployments"})
    return added is not None


def serving_path(warehouse: str | Path) -> str:
    """``WAREHOUSE/serving/deployment.json``: a path, or a URL on an object store."""
    return layout.serving_manifest_path(str(warehouse))


def redeploy(
    warehouse: str | Path,
    deployment: dict,
    webhook: str | None = None,
    command: str | None = None,
) -> dict:
    """Write serving/deployment.json, then call the webhook and/or the command; their outcomes."""
    path = serving_path(warehouse)
    payload = json.dumps(deployment, indent=2, sort_keys=True).encode()
    # Serving polls this file: it must see the old manifest or the new, never a part. Locally a
    # temp file and os.replace; on S3 one PUT of the whole object, which is atomic there.
    storage.atomic_write(path, payload)
    outcome: dict[str, str] = {"deployment_json": path}
    webhook = webhook or os.environ.get("FLYWHEEL_REDEPLOY_WEBHOOK")
    command = command or os.environ.get("FLYWHEEL_REDEPLOY_COMMAND")
    if webhook:
        headers = {"Content-Type": "application/json"}
        if os.environ.get("FLYWHEEL_GATEWAY_ADMIN_TOKEN"):  # the gateway's /admin/reload wants it
            headers["Authorization"] = f"Bearer {os.environ['FLYWHEEL_GATEWAY_ADMIN_TOKEN']}"
        request = urllib.request.Request(webhook, data=payload, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                outcome["webhook"] = f"ok {response.status}"
        except OSError as error:  # URLError, HTTPError, timeouts
            outcome["webhook"] = f"error: {error}"
    if command:
        done = subprocess.run(
            command, shell=True, env={**os.environ, "DEPLOYMENT_JSON": str(path)},
            capture_output=True, text=True, timeout=300,
        )
        outcome["command"] = "ok" if done.returncode == 0 else f"error: exit {done.returncode}: {done.stderr[-300:]}"
    return outcome


def deployment_manifest(client, model_name: str, version, action: str, at: dt.datetime) -> dict:
    return {
        "model_name": model_name,
        "version": int(version.version),
        "alias": CHAMPION_ALIAS,
        "artifact_uri": version.source,
        "run_id": version.run_id,
        "dataset_id": (version.tags or {}).get("dataset_id"),
        "action": action,
        "promoted_at": at.isoformat(),
    }


def now_utc() -> dt.datetime:
    # Deployments record when the alias really moved: this is event time, not a partition date.
    return dt.datetime.now(dt.UTC)


def load_decision(evaluation: str | Path | None, candidate_version: int, model_name: str) -> dict:
    """The evaluation report, checked to be about ``candidate_version`` and to hold a decision."""
    if evaluation is None:
        raise PromotionError(
            f"no evaluation for {model_name} v{candidate_version}: run `python -m training.evaluate "
            f"--candidate {candidate_version} ...` and pass --evaluation FILE"
        )
    report = json.loads(storage.read_bytes(str(evaluation)))
    evaluated = EvalResult.from_dict(report["candidate"]).version
    if evaluated not in (None, int(candidate_version)):
        raise PromotionError(f"evaluation {evaluation} is of v{evaluated}, not of candidate v{candidate_version}")
    if not isinstance(report.get("decision"), dict) or "promote" not in report["decision"]:
        raise PromotionError(f"evaluation {evaluation} records no gate decision; rerun `python -m training.evaluate`")
    return report


def _still_valid(report: dict, candidate, current_number: int | None) -> str | None:
    """Why the recorded decision no longer holds (facts that changed since evaluation), or None.

    These checks only veto; they never turn a refusal into a promotion.
    """
    if (candidate.tags or {}).get(registry.ERASED_TAG, "false") == "true":
        return registry.ERASED_TAG  # erasure tagged the version after it was evaluated
    evaluated_against = (report.get("champion") or {}).get("version")
    if current_number is not None and evaluated_against != current_number:
        return "stale_evaluation_champion_changed"
    return None


def _row(report: dict, evaluation, *, run_key, model_name, action, current_number, candidate_version, reason):
    run_key = run_key or f"evaluation:{storage.sha256_file(str(evaluation))[:16]}"
    return {
        "run_key": run_key, "model_name": model_name, "action": action, "from_version": current_number,
        "to_version": int(candidate_version), "reason": reason,
        "metrics_json": json.dumps(report["candidate"], sort_keys=True), "dataset_id": report.get("dataset_id"),
        "at": now_utc(),
    }


def _already_champion(warehouse, model_name: str, current_number: int | None,
                      candidate_version: int) -> bool:
    """The candidate is the champion and the deployments table says it was moved there."""
    if current_number != int(candidate_version):
        return False
    moves = [r for r in read_deployments(warehouse)
             if r["model_name"] == model_name and r["action"] in ("promote", "rollback")]
    return bool(moves) and moves[-1]["to_version"] == current_number


def record_kept(
    warehouse: str | Path,
    candidate_version: int,
    evaluation: str | Path | None,
    *,
    model_name: str = SFT_MODEL_NAME,
    run_key: str | None = None,
    tracking_uri: str | None = None,
) -> dict:
    """Record the gate's refusal ("champion kept", with its reason); never moves the alias.

    Raises PromotionError when the recorded decision was to promote: keeping the champion then
    would contradict the gate.
    """
    report = load_decision(evaluation, candidate_version, model_name)
    if report["decision"]["promote"]:
        raise PromotionError(
            f"the gate decided to promote v{candidate_version} ({report['decision']['reason']}); "
            "run promotion instead of recording the champion as kept"
        )
    client = registry.connect(warehouse, tracking_uri)
    current = registry.alias_version(client, model_name, CHAMPION_ALIAS)
    current_number = int(current.version) if current is not None else None
    if _already_champion(warehouse, model_name, current_number, candidate_version):
        # A rerun of a day whose candidate is already serving: nothing to record again.
        return {"promoted": False, "reason": "already_champion", "from_version": current_number,
                "to_version": current_number, "recorded": False, "redeploy": {}}
    row = _row(report, evaluation, run_key=run_key, model_name=model_name, action="refuse",
               current_number=current_number, candidate_version=candidate_version,
               reason=report["decision"]["reason"])
    return {"promoted": False, "reason": row["reason"], "from_version": current_number,
            "to_version": current_number, "recorded": append_deployment(warehouse, row), "redeploy": {}}


def promote(
    warehouse: str | Path,
    candidate_version: int,
    evaluation: str | Path | None = None,
    *,
    model_name: str = SFT_MODEL_NAME,
    run_key: str | None = None,
    webhook: str | None = None,
    command: str | None = None,
    tracking_uri: str | None = None,
) -> dict:
    """Act on the gate decision recorded in ``evaluation``: move the alias when it says promote.

    The decision is ``training.evaluate``'s, read from the evaluation JSON, never recomputed;
    a refusal is recorded like ``record_kept`` does. Returns {"promoted", "reason",
    "from_version", "to_version", "recorded", "redeploy"}.
    """
    client = registry.connect(warehouse, tracking_uri)
    candidate = registry.get_version(client, model_name, candidate_version)
    report = load_decision(evaluation, candidate_version, model_name)
    current = registry.alias_version(client, model_name, CHAMPION_ALIAS)
    current_number = int(current.version) if current is not None else None

    if current_number == int(candidate_version):
        if _already_champion(warehouse, model_name, current_number, candidate_version):
            return {"promoted": False, "reason": "already_champion", "from_version": current_number,
                    "to_version": current_number, "recorded": False, "redeploy": {}}
        # the alias moved but the row and the redeploy did not happen (crash in between): finish them
        ok, reason = True, "already_champion_unrecorded"
    else:
        veto = _still_valid(report, candidate, current_number)
        ok, reason = (False, veto) if veto else (bool(report["decision"]["promote"]), report["decision"]["reason"])

    row = _row(report, evaluation, run_key=run_key, model_name=model_name, action="promote" if ok else "refuse",
               current_number=current_number, candidate_version=candidate_version, reason=reason)
    if not ok:
        recorded = append_deployment(warehouse, row)
        return {"promoted": False, "reason": reason, "from_version": current_number,
                "to_version": current_number, "recorded": recorded, "redeploy": {}}
    client.set_registered_model_alias(model_name, CHAMPION_ALIAS, str(candidate_version))
    recorded = append_deployment(warehouse, row)
    outcome = redeploy(warehouse, deployment_manifest(client, model_name, candidate, "promote", row["at"]), webhook, command)
    return {"promoted": True, "reason": reason, "from_version": current_number,
            "to_version": int(candidate_version), "recorded": recorded, "redeploy": outcome}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.promote", description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--candidate-version", type=int, required=True)
    parser.add_argument("--evaluation", help="evaluation JSON from `python -m training.evaluate`")
    parser.add_argument("--model-name", default=SFT_MODEL_NAME)
    parser.add_argument("--run-key", help="idempotency key (e.g. the Airflow run id)")
    parser.add_argument("--webhook", help="POST deployment.json here (or FLYWHEEL_REDEPLOY_WEBHOOK)")
    parser.add_argument("--redeploy-command", help="shell command run after promotion (or FLYWHEEL_REDEPLOY_COMMAND)")
    parser.add_argument("--tracking-uri")
    args = parser.parse_args(argv)
    try:
        decision = promote(
            args.warehouse, args.candidate_version, args.evaluation, model_name=args.model_name,
            run_key=args.run_key, webhook=args.webhook, command=args.redeploy_command, tracking_uri=args.tracking_uri,
        )
    except (PromotionError, registry.RegistryError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(decision, default=str))
    hook_errors = [k for k, v in decision["redeploy"].items() if str(v).startswith("error")]
    if hook_errors:
        print(f"error: promoted, but redeploy hook(s) {', '.join(hook_errors)} failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Rollback: give the ``champion`` alias back to the previous champion, record it, redeploy.

    python -m training.rollback --warehouse DIR [--reason TEXT] [--run-key KEY]
        [--webhook URL] [--redeploy-command CMD] [--tracking-uri URI]

The previous champion comes from the ``deployments`` history: the ``from_version`` of the row that
made the current champion (a promotion or a rollback forward is never assumed). Rolling back
twice walks back two promotions.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from training import registry
from training.config import CHAMPION_ALIAS, SFT_MODEL_NAME
from training.promote import (
    PromotionError,
    append_deployment,
    deployment_manifest,
    now_utc,
    read_deployments,
    redeploy,
)


def previous_champion(rows: list[dict], model_name: str) -> int | None:
    """The champion before the current one: the promotions still in force, minus the last."""
    # Each rollback undoes the latest promotion still in force; replay the history as a stack.
    stack: list[int | None] = []
    for row in rows:
        if row["model_name"] != model_name:
            continue
        if row["action"] == "promote":
            stack.append(row["from_version"])
        elif row["action"] == "rollback" and stack:
            stack.pop()
    if not stack:
        return None
    return stack[-1]


def rollback(
    warehouse: str | Path,
    *,
    model_name: str = SFT_MODEL_NAME,
    reason: str = "manual_rollback",
    run_key: str | None = None,
    webhook: str | None = None,
    command: str | None = None,
    tracking_uri: str | None = None,
) -> dict:
    """Restore the previous champion; returns {"from_version", "to_version", "recorded", "redeploy"}."""
    client = registry.connect(warehouse, tracking_uri)
    current = registry.alias_version(client, model_name, CHAMPION_ALIAS)
    if current is None:
        raise PromotionError(f"model {model_name!r} has no {CHAMPION_ALIAS!r}: nothing to roll back")
    current_number = int(current.version)
    rows = read_deployments(warehouse)
    previous = previous_champion(rows, model_name)
    if previous is None:
        raise PromotionError(
            f"{model_name} v{current_number} has no previous champion in {warehouse}/deployments: "
            "it was the first one promoted"
        )
    target = registry.get_version(client, model_name, previous)
    at = now_utc()
    client.set_registered_model_alias(model_name, CHAMPION_ALIAS, str(previous))
    recorded = append_deployment(
        warehouse,
        {
            "run_key": run_key or f"rollback:{current_number}->{previous}", "model_name": model_name,
            "action": "rollback", "from_version": current_number, "to_version": previous, "reason": reason,
            "metrics_json": "{}", "dataset_id": (target.tags or {}).get("dataset_id"), "at": at,
        },
    )
    outcome = redeploy(warehouse, deployment_manifest(client, model_name, target, "rollback", at), webhook, command)
    return {"from_version": current_number, "to_version": previous, "recorded": recorded, "redeploy": outcome}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.rollback", description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--model-name", default=SFT_MODEL_NAME)
    parser.add_argument("--reason", default="manual_rollback")
    parser.add_argument("--run-key")
    parser.add_argument("--webhook")
    parser.add_argument("--redeploy-command")
    parser.add_argument("--tracking-uri")
    args = parser.parse_args(argv)
    try:
        result = rollback(
            args.warehouse, model_name=args.model_name, reason=args.reason, run_key=args.run_key,
            webhook=args.webhook, command=args.redeploy_command, tracking_uri=args.tracking_uri,
        )
    except (PromotionError, registry.RegistryError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

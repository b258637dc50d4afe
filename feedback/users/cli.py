"""The command line of ``python -m feedback.users`` (the package docstring says what it does)."""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import replace

import httpx
import openai

from feedback.users.session import UsersConfig, run_day
from feedback.users.tastes import load_taste


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m feedback.users",
                                     description="simulated users talk to a gateway and react by a taste")
    parser.add_argument("--gateway", required=True, help="gateway base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--date", required=True, help="the simulated day, YYYY-MM-DD (the truth's partition)")
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--taste", required=True,
                        help="MODULE:FUNCTION, or concise | thorough | polite | coin")
    parser.add_argument("--prompts", help="JSONL file of real prompts (field 'prompt'); default: simulator topics")
    parser.add_argument("--truth", default="taste_truth",
                        help="folder for the taste truth; keep it beside the landing zone, never inside")
    parser.add_argument("--workers", type=int, default=UsersConfig.workers)
    parser.add_argument("--max-tokens", type=int, default=UsersConfig.max_tokens)
    args = parser.parse_args(argv)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", args.date):
        parser.error(f"--date {args.date!r} is not YYYY-MM-DD")
    if args.users < 1:
        parser.error(f"--users must be >= 1, got {args.users}")
    try:
        taste = load_taste(args.taste)
        config = replace(UsersConfig(), workers=args.workers, max_tokens=args.max_tokens)
        summary = run_day(args.gateway, args.date, args.users, args.seed, taste, args.truth,
                          args.prompts, config)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (httpx.HTTPError, openai.APIConnectionError) as error:
        print(f"error: gateway {args.gateway} unreachable ({error}); start it with "
              "python -m serving.gateway", file=sys.stderr)
        return 2
    print(json.dumps(summary, sort_keys=True))
    return 0

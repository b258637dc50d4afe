"""The gateway's command line: serve the champion, record every exchange (docs/gateway.md).

    python -m serving.gateway --landing DIR --warehouse DIR [--host 127.0.0.1] [--port 8000]
        [--upstream URL [--upstream-model NAME]] [--challenger VERSION --challenger-share 0.1]
        [--model-path DIR] [--instance ID] [--clock-start 2026-11-03T08:00:00Z --clock-speed 60]

SIGTERM (or Ctrl-C) drains requests in flight, closes the open landing segment and exits 0.
"""

from __future__ import annotations

import argparse
import logging
import sys

from serving.config import GatewayConfig, LandingConfig
from warehouse import umask


def parse_config(argv: list[str] | None = None) -> GatewayConfig:
    parser = argparse.ArgumentParser(prog="python -m serving.gateway", description=__doc__.splitlines()[0])
    parser.add_argument("--landing", required=True, help="landing zone folder or filesystem URL")
    parser.add_argument("--warehouse", required=True, help="warehouse folder (MLflow registry, deployment.json)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--upstream", help="OpenAI-compatible base URL that generates, e.g. http://vllm:8000/v1")
    parser.add_argument("--upstream-model", help="the upstream's model name for the champion (default: its first)")
    parser.add_argument("--model-path", help="serve this checkpoint folder instead of the registry champion")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (default: sqlite under the warehouse)")
    parser.add_argument("--challenger", help="registry version for the canary arm (4 or flywheel-sft/4)")
    parser.add_argument("--challenger-share", type=float, default=0.0, help="share of users on the challenger")
    parser.add_argument("--self-comparison", action="store_true",
                        help="answer side_by_side requests with two champion samples when no challenger is served")
    parser.add_argument("--instance", help="landing file id of this gateway (default: random per process)")
    parser.add_argument("--segment-max-bytes", type=int, default=LandingConfig.max_segment_bytes)
    parser.add_argument("--segment-max-age", type=float, default=LandingConfig.max_segment_age_s,
                        help="seconds before an open segment is closed")
    parser.add_argument("--spool", help="local folder for open segments when --landing is an object store")
    parser.add_argument("--fsync-every-line", action="store_true", help="fsync each event (power-loss safe)")
    parser.add_argument("--max-body-bytes", type=int, default=GatewayConfig.max_body_bytes)
    parser.add_argument("--workers", type=int, default=GatewayConfig.generation_workers,
                        help="concurrent generations")
    parser.add_argument("--clock-start", help="simulated clock start (RFC 3339)")
    parser.add_argument("--clock-speed", type=float, default=1.0, help="simulated seconds per second")
    args = parser.parse_args(argv)
    if not 0.0 <= args.challenger_share <= 1.0:
        parser.error(f"--challenger-share {args.challenger_share} must be within 0..1")
    if args.challenger_share > 0 and not args.challenger:
        parser.error("--challenger-share needs --challenger VERSION")
    return GatewayConfig(
        landing=args.landing, warehouse=args.warehouse, host=args.host, port=args.port,
        upstream=args.upstream, upstream_model=args.upstream_model, model_path=args.model_path,
        tracking_uri=args.tracking_uri, challenger=args.challenger,
        challenger_share=args.challenger_share, self_comparison=args.self_comparison,
        max_body_bytes=args.max_body_bytes,
        generation_workers=args.workers, clock_start=args.clock_start, clock_speed=args.clock_speed,
        landing_writer=LandingConfig(
            args.landing, instance=args.instance, max_segment_bytes=args.segment_max_bytes,
            max_segment_age_s=args.segment_max_age, fsync_every_line=args.fsync_every_line,
            spool=args.spool),
    )


def main(argv: list[str] | None = None) -> int:
    umask.restrict_umask()  # outputs are never world-readable (FLYWHEEL_UMASK)
    import uvicorn

    from serving.app import create_app

    config = parse_config(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        app = create_app(config)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    # No access log: request lines carry client addresses; our own log lines carry ids only.
    uvicorn.run(app, host=config.host, port=config.port, access_log=False, log_level="info",
                timeout_graceful_shutdown=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())

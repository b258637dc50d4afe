"""Prometheus metrics, one registry per app (two gateways in one process do not collide)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Seconds: CPU tiny models answer in ~10 ms, a remote 70B in tens of seconds.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


@dataclass
class Metrics:
    registry: CollectorRegistry
    requests: Counter
    errors: Counter
    latency: Histogram
    ttft: Histogram
    tokens_in: Counter
    tokens_out: Counter
    events: Counter
    model_info: Gauge
    reloads: Counter


def make_metrics() -> Metrics:
    registry = CollectorRegistry()
    return Metrics(
        registry=registry,
        requests=Counter("flywheel_gateway_requests", "Chat completions answered",
                         ["model_version", "arm", "stream"], registry=registry),
        errors=Counter("flywheel_gateway_errors", "Requests refused or failed ('unrouted': before a "
                       "model was chosen)", ["model_version", "endpoint", "status", "code"],
                       registry=registry),
        latency=Histogram("flywheel_gateway_latency_seconds", "Request to last token",
                          ["model_version"], buckets=LATENCY_BUCKETS, registry=registry),
        ttft=Histogram("flywheel_gateway_time_to_first_token_seconds", "Request to first token",
                       ["model_version"], buckets=LATENCY_BUCKETS, registry=registry),
        tokens_in=Counter("flywheel_gateway_prompt_tokens", "Prompt tokens", ["model_version"],
                          registry=registry),
        tokens_out=Counter("flywheel_gateway_completion_tokens", "Completion tokens",
                           ["model_version"], registry=registry),
        events=Counter("flywheel_gateway_events", "Events written to the landing zone",
                       ["event_type"], registry=registry),
        model_info=Gauge("flywheel_gateway_model_info", "1 for each version serving now",
                         ["model_version", "arm"], registry=registry),
        reloads=Counter("flywheel_gateway_reloads", "Champion reloads by outcome", ["outcome"],
                        registry=registry),
    )

"""The gateway app: ``create_app(config)`` builds it; the lifespan owns the model manager, the
landing writer and their background tasks (deployment watch, segment rotation)."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError

from serving import chat, events
from serving.clock import Clock, make_clock
from serving.config import GatewayConfig
from serving.errors import ApiError, from_validation, read_json
from serving.landing import SegmentWriter
from serving.metrics import Metrics, make_metrics
from serving.models import ModelManager, version_number
from serving.protocol import DeletionRequest, FeedbackRequest, ModelCard, ModelList, Recorded

log = logging.getLogger("serving.app")
ROTATE_EVERY_S = 1.0  # how often the writer checks its open segment's age and day


@dataclass
class GatewayState:
    config: GatewayConfig
    clock: Clock
    writer: SegmentWriter
    models: ModelManager
    metrics: Metrics


def create_app(config: GatewayConfig, clock: Clock | None = None) -> FastAPI:
    clock = clock or make_clock(config.clock_start, config.clock_speed)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        state = GatewayState(config, clock, SegmentWriter(config.writer, clock),
                             ModelManager(config, clock), make_metrics())
        recovered = state.writer.start()
        if recovered:
            log.warning("recovered %d open segment(s) of dead writers", len(recovered))
        app.state.gateway = state
        tasks = [asyncio.create_task(_load_then_watch(state)),
                 asyncio.create_task(_rotate(state))]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            state.writer.close()  # SIGTERM: uvicorn drains requests, then this closes the segment
            await state.models.aclose()
            log.info("gateway stopped; closed segments: %d", len(state.writer.closed_segments))

    app = FastAPI(title="user-data-flywheel gateway", lifespan=lifespan)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError):
        state = request.app.state.gateway
        version = getattr(request.state, "model_version", "unrouted")
        state.metrics.errors.labels(version, request.url.path, str(error.status), error.code).inc()
        log.info("refused path=%s status=%d code=%s param=%s", request.url.path, error.status,
                 error.code, error.param)
        return error.response()

    @app.exception_handler(events.BadEvent)
    async def bad_event(request: Request, error: events.BadEvent):
        return await api_error(request, ApiError(400, str(error), error.param, error.code))

    app.add_api_route("/v1/chat/completions", chat.chat_completions, methods=["POST"])
    app.add_api_route("/v1/feedback", feedback, methods=["POST"])
    app.add_api_route("/v1/deletions", deletion, methods=["POST"])
    app.add_api_route("/v1/models", list_models, methods=["GET"])
    app.add_api_route("/healthz", healthz, methods=["GET"])
    app.add_api_route("/metrics", metrics, methods=["GET"])
    app.add_api_route("/admin/reload", reload, methods=["POST"])
    return app


def _on_reload(state: GatewayState, outcome: dict) -> None:
    state.metrics.reloads.labels("ok" if outcome["ok"] else "failed").inc()
    state.metrics.model_info.clear()
    for arm, version in state.models.served():
        state.metrics.model_info.labels(version, arm).set(1)


async def _load_then_watch(state: GatewayState) -> None:
    state.models.on_change = lambda outcome: _on_reload(state, outcome)
    await state.models.start()
    while state.models.champion is None:  # no champion yet, or the upstream is down: keep trying
        await asyncio.sleep(state.config.retry_load_s)
        await state.models.start()
    for arm, version in state.models.served():
        state.metrics.model_info.labels(version, arm).set(1)
    if not state.config.upstream:
        await state.models.watch()


async def _rotate(state: GatewayState) -> None:
    while True:
        await asyncio.sleep(ROTATE_EVERY_S)
        await asyncio.to_thread(state.writer.rotate_if_due)


def _body(model, raw: object):
    if not isinstance(raw, dict):
        raise ApiError(400, "request body must be a JSON object", None, "invalid_type")
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise from_validation(error) from error


def _write(state: GatewayState, record: dict) -> JSONResponse:
    state.writer.write(record)
    state.metrics.events.labels(record["event_type"]).inc()
    log.info("recorded %s id=%s", record["event_type"], record["event_id"])
    body = Recorded(id=record["event_id"], object=record["event_type"],
                    created=int(state.clock.now().timestamp()))
    return JSONResponse(body.model_dump())


async def feedback(request: Request):
    state = request.app.state.gateway
    body = _body(FeedbackRequest, await read_json(request, state.config.max_body_bytes))
    try:
        record = events.feedback(event_id=events.new_id("fb"), at=state.clock.now(),
                                 body=body.model_dump())
    except events.BadEvent as error:
        raise ApiError(400, str(error), error.param, error.code) from error
    return _write(state, record)


async def deletion(request: Request):
    state = request.app.state.gateway
    body = _body(DeletionRequest, await read_json(request, state.config.max_body_bytes))
    try:
        record = events.deletion(event_id=events.new_id("del"), at=state.clock.now(), user=body.user)
    except events.BadEvent as error:
        raise ApiError(400, str(error), error.param, error.code) from error
    return _write(state, record)


async def list_models(request: Request):
    state = request.app.state.gateway
    created = int(state.clock.now().timestamp())
    pairs = state.models.challenger is not None or state.config.self_comparison
    cards = [ModelCard(id=version, created=created, arm=arm, side_by_side=pairs)
             for arm, version in state.models.served()]
    return JSONResponse(ModelList(data=cards).model_dump(exclude_none=True))


async def healthz(request: Request):
    models = request.app.state.gateway.models
    body = {"status": "loading" if models.loading else "ready" if models.champion else "failed",
            "champion": models.champion.version if models.champion else None,
            "challenger": models.challenger.version if models.challenger else None,
            "last_reload": models.last_reload}
    return JSONResponse(body, status_code=200 if models.champion else 503)


async def metrics(request: Request):
    return Response(generate_latest(request.app.state.gateway.metrics.registry),
                    media_type=CONTENT_TYPE_LATEST)


async def reload(request: Request):
    """Load the champion now. The body may be the deployment manifest (``version``) or empty."""
    state = request.app.state.gateway
    expected = os.environ.get(state.config.admin_token_env)
    if not expected:
        raise ApiError(403, f"admin endpoints are disabled: set {state.config.admin_token_env}",
                       None, "admin_disabled", "permission_error")
    given = request.headers.get("authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
        raise ApiError(401, "missing or wrong bearer token", None, "invalid_token", "authentication_error")
    raw = await read_json(request, state.config.max_body_bytes) if request.headers.get(
        "content-length", "0") != "0" else {}
    number = None
    if isinstance(raw, dict) and raw.get("version") is not None:
        try:
            number = version_number(str(raw["version"]), state.config.model_name)
        except ValueError as error:
            raise ApiError(400, str(error), "version", "invalid_value") from error
    outcome = await state.models.reload(number, reason="admin_reload")
    return JSONResponse(outcome, status_code=200 if outcome["ok"] else 409)

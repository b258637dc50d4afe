"""POST /v1/chat/completions: check the request, route it, generate, record, answer.

The interaction is written to the landing zone before the last byte of the answer leaves (the
final chunk of a stream, or the JSON body), so every 200 has exactly one interaction line. A
stream the client abandons is not recorded: the user never saw the whole answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

from fastapi import Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError

from feedback.contract import ROLES
from serving import events
from serving.backends import Generation, PromptTooLong, SamplingParams, UpstreamError
from serving.errors import ApiError, from_validation, read_json
from serving.protocol import (
    UNSUPPORTED,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    Delta,
    ResponseMessage,
    Usage,
)

log = logging.getLogger("serving.chat")
MAX_METADATA_KEYS, MAX_METADATA_KEY, MAX_METADATA_VALUE = 16, 64, 512  # OpenAI's limits
SECOND_SEED_STEP = 0x9E3779B1  # a self-comparison's second seed: far from the first (golden ratio)


@dataclass
class Answer:
    """One finished generation and its interaction record."""

    generation: Generation
    arm: str
    text: str
    event_id: str
    ttft_s: float
    latency_s: float


def parse_request(raw: object, state) -> ChatCompletionRequest:
    if not isinstance(raw, dict):
        raise ApiError(400, "request body must be a JSON object", None, "invalid_type")
    try:
        request = ChatCompletionRequest.model_validate(raw)
    except ValidationError as error:
        raise from_validation(error) from error
    config = state.config
    for name in UNSUPPORTED:
        if raw.get(name) not in (None, [], {}):
            raise ApiError(400, f"{name} is not supported by this gateway", name, "unsupported_parameter")
    if request.n not in (None, 1):
        raise ApiError(400, "n > 1 is not supported: send one request per answer (or side_by_side)",
                       "n", "unsupported_parameter")
    if request.logprobs:
        raise ApiError(400, "logprobs is not supported", "logprobs", "unsupported_parameter")
    if not request.messages:
        raise ApiError(400, "messages must hold at least one message", "messages", "invalid_value")
    if len(request.messages) > config.max_messages:
        raise ApiError(400, f"{len(request.messages)} messages is over the limit of "
                       f"{config.max_messages}", "messages", "too_many_messages")
    for index, message in enumerate(request.messages):
        if message.role not in ROLES:
            raise ApiError(400, f"messages[{index}].role must be one of {', '.join(ROLES)}",
                           f"messages[{index}].role", "invalid_value")
    if request.user is None:
        raise ApiError(400, "user is required: the app's user id, so feedback, erasure and the "
                       "canary can follow the user", "user", "missing_field")
    metadata = request.metadata or {}
    if len(metadata) > MAX_METADATA_KEYS or any(
            len(k) > MAX_METADATA_KEY or len(v) > MAX_METADATA_VALUE for k, v in metadata.items()):
        raise ApiError(400, f"metadata holds at most {MAX_METADATA_KEYS} keys of <= {MAX_METADATA_KEY} "
                       f"characters with values of <= {MAX_METADATA_VALUE}", "metadata", "invalid_value")
    max_tokens = request.max_completion_tokens or request.max_tokens or config.max_tokens_default
    if max_tokens > config.max_tokens_limit:
        field = "max_completion_tokens" if request.max_completion_tokens else "max_tokens"
        raise ApiError(400, f"{field} is over the limit of {config.max_tokens_limit}", field, "invalid_value")
    if request.side_by_side and request.stream:
        raise ApiError(400, "side_by_side answers are not streamed", "stream", "unsupported_parameter")
    return request


def sampling(request: ChatCompletionRequest, state) -> SamplingParams:
    return SamplingParams(
        max_tokens=request.max_completion_tokens or request.max_tokens or state.config.max_tokens_default,
        temperature=1.0 if request.temperature is None else float(request.temperature),
        top_p=1.0 if request.top_p is None else float(request.top_p),
        seed=request.seed, stop=tuple(request.stops()))


def start(backend, messages: list[dict], params: SamplingParams, user_token: str) -> Generation:
    try:
        return backend.generate(messages, params, user_token)
    except PromptTooLong as error:
        raise ApiError(400, str(error), "messages", "context_length_exceeded") from error


def upstream_error(error: UpstreamError) -> ApiError:
    body = error.body.get("error", {})
    status = error.status if 400 <= error.status < 500 else 502
    return ApiError(status, body.get("message", "upstream error"), body.get("param"),
                    body.get("code") or "upstream_error", body.get("type", "upstream_error"))


def record(state, request: ChatCompletionRequest, messages: list[dict], answer: Answer,
           extra: dict[str, str] | None = None) -> None:
    generation = answer.generation
    event = events.interaction(
        event_id=answer.event_id, at=state.clock.now(), user=request.user, messages=messages,
        response=answer.text, model_version=generation.version, latency_ms=answer.latency_s * 1000,
        metadata=request.metadata or {},
        extra={"arm": answer.arm, "finish_reason": generation.finish_reason,
               "prompt_tokens": str(generation.prompt_tokens),
               "completion_tokens": str(generation.completion_tokens),
               "gateway_instance": state.writer.instance, **(extra or {})})
    state.writer.write(event)
    metrics = state.metrics
    metrics.events.labels("interaction").inc()
    version = generation.version
    metrics.latency.labels(version).observe(answer.latency_s)
    metrics.ttft.labels(version).observe(answer.ttft_s)
    metrics.tokens_in.labels(version).inc(generation.prompt_tokens)
    metrics.tokens_out.labels(version).inc(generation.completion_tokens)
    # ids, versions and timings only: never content, never the user id
    log.info("completion id=%s model_version=%s arm=%s prompt_tokens=%d completion_tokens=%d "
             "ttft_ms=%.1f latency_ms=%.1f", answer.event_id, version, answer.arm,
             generation.prompt_tokens, generation.completion_tokens, answer.ttft_s * 1000,
             answer.latency_s * 1000)


async def collect(generation: Generation, arm: str, started: float) -> Answer:
    parts, ttft = [], None
    try:
        async for text in generation:
            ttft = ttft if ttft is not None else time.perf_counter() - started
            parts.append(text)
    except UpstreamError as error:
        raise upstream_error(error) from error
    latency = time.perf_counter() - started
    return Answer(generation, arm, "".join(parts), events.new_id("chatcmpl"),
                  latency if ttft is None else ttft, latency)


async def chat_completions(http: Request):
    state = http.app.state.gateway
    request = parse_request(await read_json(http, state.config.max_body_bytes), state)
    models = state.models
    if models.champion is None:
        raise ApiError(503, "no model is loaded yet (see /healthz)", None, "model_not_ready", "server_error")
    routed = models.route(request.model, request.user)
    if routed is None:
        served = ", ".join(["champion", *(v for _, v in models.served())])
        raise ApiError(404, f"model {request.model!r} is not served here (serving {served})",
                       "model", "model_not_found")
    arm, backend = routed
    http.state.model_version = backend.version  # labels the error metric if this one fails
    messages = [{"role": m.role, "content": m.text()} for m in request.messages]
    # The contract check runs before generating: a bad id or consent value costs no model time.
    events.interaction(event_id=events.new_id("chatcmpl"), at=state.clock.now(), user=request.user,
                       messages=messages, response="", model_version=backend.version, latency_ms=0,
                       metadata=request.metadata or {}, extra={})
    params = sampling(request, state)
    started = time.perf_counter()
    if request.side_by_side:
        return await side_by_side(state, request, messages, params, started)
    generation = start(backend, messages, params, models.user_token(request.user))
    if request.stream:
        return await stream(state, request, messages, generation, arm, started)
    answer = await collect(generation, arm, started)
    record(state, request, messages, answer)
    state.metrics.requests.labels(generation.version, arm, "false").inc()
    usage = Usage(prompt_tokens=generation.prompt_tokens, completion_tokens=generation.completion_tokens,
                  total_tokens=generation.prompt_tokens + generation.completion_tokens)
    body = ChatCompletion(
        id=answer.event_id, created=int(state.clock.now().timestamp()), model=generation.version,
        choices=[Choice(index=0, message=ResponseMessage(content=answer.text),
                        finish_reason=generation.finish_reason)], usage=usage)
    return JSONResponse(body.model_dump(exclude_none=True))


def second_sample(params: SamplingParams) -> SamplingParams:
    """The other answer of a self-comparison: a seeded request gets a second seed derived from
    its own, so a rerun draws the same two answers and the two still differ."""
    if params.seed is None:
        return params  # unseeded: two draws differ anyway
    return replace(params, seed=(params.seed + SECOND_SEED_STEP) % 2**31)


async def side_by_side(state, request, messages, params, started) -> JSONResponse:
    models = state.models
    if models.challenger is not None:
        arms = [("champion", models.champion, params), ("challenger", models.challenger, params)]
    elif state.config.self_comparison:
        # No canary: two samples of the champion, which the user's pick ranks. These are pairs of
        # the served model's own answers, the ones a reward model and DPO learn the most from.
        arms = [("champion", models.champion, params), ("champion", models.champion, second_sample(params))]
    else:
        raise ApiError(400, "side_by_side needs a challenger (start the gateway with --challenger) "
                       "or --self-comparison", "side_by_side", "no_challenger")
    token = models.user_token(request.user)
    pair = [start(backend, messages, arm_params, token) for _, backend, arm_params in arms]
    answers = await asyncio.gather(*(collect(generation, arm, started)
                                     for generation, (arm, _, _) in zip(pair, arms, strict=True)))
    for this, other in (answers, answers[::-1]):
        record(state, request, messages, this, {"side_by_side_with": other.event_id})
        state.metrics.requests.labels(this.generation.version, this.arm, "false").inc()
    prompt = answers[0].generation.prompt_tokens
    completion = sum(a.generation.completion_tokens for a in answers)
    body = ChatCompletion(
        id=answers[0].event_id, created=int(state.clock.now().timestamp()),
        model=answers[0].generation.version,
        choices=[Choice(index=i, message=ResponseMessage(content=a.text), id=a.event_id,
                        model=a.generation.version, finish_reason=a.generation.finish_reason)
                 for i, a in enumerate(answers)],
        usage=Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion))
    return JSONResponse(body.model_dump(exclude_none=True))


def _sse(chunk: ChatCompletionChunk) -> str:
    return f"data: {json.dumps(chunk.model_dump(exclude_none=True), separators=(',', ':'))}\n\n"


async def stream(state, request, messages, generation: Generation, arm: str, started: float):
    """Wait for the first token (so upstream and prompt errors keep their status), then stream."""
    deltas = aiter(generation)
    try:
        first = await anext(deltas)
    except StopAsyncIteration:
        first = None
    except UpstreamError as error:
        raise upstream_error(error) from error
    ttft = time.perf_counter() - started
    event_id = events.new_id("chatcmpl")
    created = int(state.clock.now().timestamp())
    include_usage = bool(request.stream_options and request.stream_options.include_usage)

    def chunk(delta: Delta, finish=None, usage=None, choices=True) -> str:
        listed = [ChunkChoice(delta=delta, finish_reason=finish)] if choices else []
        return _sse(ChatCompletionChunk(id=event_id, created=created, model=generation.version,
                                        choices=listed, usage=usage))

    async def body() -> AsyncIterator[str]:
        parts = [] if first is None else [first]
        yield chunk(Delta(role="assistant", content=first or ""))
        try:
            async for text in deltas:
                parts.append(text)
                yield chunk(Delta(content=text))
        except UpstreamError as error:
            # Headers are gone: the error travels in the stream, as OpenAI's does.
            yield f"data: {upstream_error(error).response().body.decode()}\n\n"
            return
        answer = Answer(generation, arm, "".join(parts), event_id, ttft, time.perf_counter() - started)
        record(state, request, messages, answer)
        state.metrics.requests.labels(generation.version, arm, "true").inc()
        yield chunk(Delta(), finish=generation.finish_reason)
        if include_usage:
            yield chunk(Delta(), choices=False, usage=Usage(
                prompt_tokens=generation.prompt_tokens, completion_tokens=generation.completion_tokens,
                total_tokens=generation.prompt_tokens + generation.completion_tokens))
        yield "data: [DONE]\n\n"

    return StreamingResponse(body(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})

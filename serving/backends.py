"""Who generates: a transformers model in this process, or an OpenAI-compatible upstream.

Both give a ``Generation``: an async iterator of text deltas that, once exhausted, knows its
token counts, finish reason and the exact model version that produced it. The event loop never
waits on a model: transformers runs in a thread pool and hands text back through the loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

log = logging.getLogger("serving.backends")


@dataclass(frozen=True)
class SamplingParams:
    max_tokens: int
    temperature: float = 1.0  # OpenAI's default; 0 = greedy
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()


class PromptTooLong(ValueError):
    def __init__(self, prompt_tokens: int, max_tokens: int, context: int):
        super().__init__(
            f"the prompt is {prompt_tokens} tokens and max_tokens is {max_tokens}, but the model's "
            f"context is {context} tokens: shorten the messages or lower max_tokens")


class UpstreamError(RuntimeError):
    """The upstream answered with an error (``status``, OpenAI error ``body``) or not at all."""

    def __init__(self, status: int, body: dict):
        super().__init__(f"upstream error {status}")
        self.status = status
        self.body = body


class Generation(ABC):
    """Text deltas; after the last one: prompt/completion tokens, finish reason, version."""

    def __init__(self, version: str):
        self.version = version
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.finish_reason = "stop"

    def __aiter__(self) -> AsyncIterator[str]:
        return _without_nul(self._deltas())

    @abstractmethod
    def _deltas(self) -> AsyncIterator[str]:
        """The text deltas, as an async generator; sets the counts as it ends."""


async def _without_nul(deltas: AsyncIterator[str]) -> AsyncIterator[str]:
    """A model (an untrained one easily) can emit U+0000, which the event contract refuses in
    any line: it is dropped here, so the user and the landing zone see the same text."""
    async for text in deltas:
        if text := text.replace("\x00", ""):
            yield text


class StopTrimmer:
    """Cuts streamed text at the first stop sequence, holding back what may be a stop's start."""

    def __init__(self, stops: tuple[str, ...]):
        self.stops = stops
        self.pending = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        if self.stopped:
            return ""
        if not self.stops:
            return text
        self.pending += text
        cuts = [self.pending.find(s) for s in self.stops if s in self.pending]
        if cuts:
            self.stopped = True
            out, self.pending = self.pending[:min(cuts)], ""
            return out
        hold = max((k for s in self.stops for k in range(1, len(s)) if self.pending.endswith(s[:k])),
                   default=0)
        out = self.pending[:len(self.pending) - hold]
        self.pending = self.pending[len(out):]
        return out

    def flush(self) -> str:
        out, self.pending = ("" if self.stopped else self.pending), ""
        return out


# One lock for seeded sampling: torch's CPU generator is process-wide.
_SEED_LOCK = threading.Lock()


class TransformersBackend:
    """A causal LM checkpoint folder (model + tokenizer with a chat template)."""

    def __init__(self, path: str | Path, version: str, executor: ThreadPoolExecutor):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.version = version
        self.path = str(path)
        self.executor = executor
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.tokenizer = AutoTokenizer.from_pretrained(self.path)
        if self.tokenizer.chat_template is None:
            raise ValueError(f"model at {self.path} has no chat template: save it with one")
        self.model = AutoModelForCausalLM.from_pretrained(self.path).to(self.device).eval()
        self.context = int(getattr(self.model.config, "max_position_embeddings", 2048))

    def prompt_ids(self, messages: list[dict], max_tokens: int) -> list[int]:
        text = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) + max_tokens > self.context:
            raise PromptTooLong(len(ids), max_tokens, self.context)
        return ids

    def generate(self, messages: list[dict], params: SamplingParams, user_token: str | None = None
                 ) -> Generation:
        return _LocalGeneration(self, self.prompt_ids(messages, params.max_tokens), params)

    async def aclose(self) -> None:
        return None


def _stop_criterion(tokenizer, prompt_length: int, stops: tuple[str, ...]):
    """Stop once the generated text holds a stop sequence. (transformers' ``stop_strings`` also
    matches across the prompt's end, so a stop of "\n\n" fired on the first newline.)"""
    import torch
    from transformers import StoppingCriteria

    class _GeneratedStop(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            texts = tokenizer.batch_decode(input_ids[:, prompt_length:], skip_special_tokens=True)
            return torch.tensor([any(s in t for s in stops) for t in texts], device=input_ids.device)

    return _GeneratedStop()


class _LocalGeneration(Generation):
    def __init__(self, backend: TransformersBackend, ids: list[int], params: SamplingParams):
        super().__init__(backend.version)
        self.backend, self.ids, self.params = backend, ids, params
        self.prompt_tokens = len(ids)

    def _run(self, streamer) -> int:
        import torch

        backend, params = self.backend, self.params
        sample = params.temperature > 0
        kwargs = dict(max_new_tokens=params.max_tokens, do_sample=sample, streamer=streamer,
                      pad_token_id=backend.tokenizer.pad_token_id)
        if sample:
            kwargs.update(temperature=float(params.temperature), top_p=float(params.top_p))
        if params.stop:
            kwargs.update(stopping_criteria=[_stop_criterion(backend.tokenizer, len(self.ids), params.stop)])
        input_ids = torch.tensor([self.ids], device=backend.device)
        with torch.inference_mode():
            if sample and params.seed is not None:
                with _SEED_LOCK:
                    torch.manual_seed(params.seed)
                    out = backend.model.generate(input_ids, attention_mask=torch.ones_like(input_ids), **kwargs)
            else:
                out = backend.model.generate(input_ids, attention_mask=torch.ones_like(input_ids), **kwargs)
        return int(out.shape[1] - input_ids.shape[1])

    async def _deltas(self) -> AsyncIterator[str]:
        from transformers.generation.streamers import TextStreamer

        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        done = object()

        class _Bridge(TextStreamer):
            def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
                if text:
                    loop.call_soon_threadsafe(queue.put_nowait, text)

        streamer = _Bridge(self.backend.tokenizer, skip_prompt=True, skip_special_tokens=True)

        def work() -> int:
            try:
                return self._run(streamer)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, done)

        future = loop.run_in_executor(self.backend.executor, work)
        trimmer = StopTrimmer(self.params.stop)
        while (item := await queue.get()) is not done:
            if text := trimmer.feed(item):
                yield text
        self.completion_tokens = await future  # re-raises a generation error
        if tail := trimmer.flush():
            yield tail
        hit_length = self.completion_tokens >= self.params.max_tokens and not trimmer.stopped
        self.finish_reason = "length" if hit_length else "stop"


class UpstreamBackend:
    """An OpenAI-compatible server; the gateway routes and records, the upstream generates."""

    def __init__(self, url: str, model: str, client: httpx.AsyncClient):
        self.url = url.rstrip("/")
        self.model = model
        self.version = model  # until an answer says which version it really was
        self.client = client

    @classmethod
    async def connect(cls, url: str, model: str | None, timeout: float) -> UpstreamBackend:
        client = httpx.AsyncClient(base_url=url.rstrip("/"), timeout=timeout)
        if model is None:
            response = await client.get("/models")
            response.raise_for_status()
            models = response.json()["data"]
            if not models:
                raise ValueError(f"upstream {url} serves no model: start it with one")
            model = models[0]["id"]
        return cls(url, model, client)

    def generate(self, messages: list[dict], params: SamplingParams, user_token: str | None = None
                 ) -> Generation:
        """``user_token``: a keyed hash of the user id, never the id (the upstream may log it)."""
        return _UpstreamGeneration(self, messages, params, user_token)

    async def aclose(self) -> None:
        await self.client.aclose()


class _UpstreamGeneration(Generation):
    def __init__(self, backend: UpstreamBackend, messages: list[dict], params: SamplingParams,
                 user_token: str | None):
        super().__init__(backend.version)
        self.backend = backend
        self.body = {
            "model": backend.model, "messages": messages, "max_tokens": params.max_tokens,
            "temperature": params.temperature, "top_p": params.top_p, "stream": True,
            "stream_options": {"include_usage": True},
        }
        if params.seed is not None:
            self.body["seed"] = params.seed
        if params.stop:
            self.body["stop"] = list(params.stop)
        if user_token is not None:
            self.body["user"] = user_token

    async def _deltas(self) -> AsyncIterator[str]:
        try:
            async with self.backend.client.stream("POST", "/chat/completions", json=self.body) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise UpstreamError(response.status_code, _error_json(response))
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    chunk = json.loads(data)
                    self.version = chunk.get("model") or self.version
                    if chunk.get("usage"):
                        self.prompt_tokens = chunk["usage"].get("prompt_tokens", 0)
                        self.completion_tokens = chunk["usage"].get("completion_tokens", 0)
                    for choice in chunk.get("choices") or []:
                        if choice.get("finish_reason"):
                            self.finish_reason = choice["finish_reason"]
                        if text := (choice.get("delta") or {}).get("content"):
                            yield text
        except httpx.HTTPError as error:
            raise UpstreamError(502, {"error": {
                "message": f"upstream {self.backend.url} unreachable: {type(error).__name__}",
                "type": "upstream_error", "param": None, "code": "upstream_unreachable"}}) from error


def _error_json(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body
    return {"error": {"message": f"upstream answered {response.status_code}", "type": "upstream_error",
                      "param": None, "code": "upstream_error"}}

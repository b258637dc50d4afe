"""Request and response bodies: pydantic models mirroring OpenAI's Chat Completions wire types.

Only what the gateway honours is declared; unknown request fields are ignored, as OpenAI-compatible
servers do, except the options we refuse by name (``UNSUPPORTED``) so a client never silently gets
less than it asked for.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

# Options a client may send that the gateway does not implement: a 400 naming the field.
UNSUPPORTED = ("tools", "tool_choice", "functions", "function_call", "audio", "prediction",
               "logit_bias", "web_search_options")


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: StrictStr
    text: StrictStr | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: StrictStr
    content: StrictStr | list[ContentPart]
    name: StrictStr | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "\n".join(part.text or "" for part in self.content if part.type == "text")


class StreamOptions(BaseModel):
    include_usage: StrictBool = False


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    messages: list[ChatMessage]
    model: StrictStr = "champion"
    max_tokens: StrictInt | None = Field(default=None, ge=1)
    max_completion_tokens: StrictInt | None = Field(default=None, ge=1)
    temperature: StrictFloat | StrictInt | None = Field(default=None, ge=0, le=2)
    top_p: StrictFloat | StrictInt | None = Field(default=None, gt=0, le=1)
    seed: StrictInt | None = None
    stop: StrictStr | list[StrictStr] | None = None
    user: StrictStr | None = None
    metadata: dict[StrictStr, StrictStr] | None = None
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    n: StrictInt | None = Field(default=None, ge=1)
    logprobs: StrictBool | None = None
    # Extension: answer twice, champion and challenger, for a side-by-side pick.
    side_by_side: StrictBool = False

    def stops(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else [s for s in self.stop if s]


class ResponseMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int
    message: ResponseMessage
    finish_reason: Literal["stop", "length"]
    logprobs: None = None
    # Side-by-side only: which interaction (and version) this answer is, for the comparison.
    id: str | None = None
    model: str | None = None


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop", "length"] | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None


class FeedbackRequest(BaseModel):
    """A judgement about a completion; the fields are the contract's (docs/events.md)."""

    model_config = ConfigDict(extra="forbid")
    interaction_id: StrictStr
    kind: StrictStr
    user: StrictStr
    value: StrictInt | None = None
    edited_response: StrictStr | None = None
    other_interaction_id: StrictStr | None = None
    preferred: StrictStr | None = None
    reason: StrictStr | None = None
    comment: StrictStr | None = None
    metadata: dict[StrictStr, StrictStr] | None = None


class DeletionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: StrictStr


class Recorded(BaseModel):
    id: str
    object: Literal["feedback", "deletion_request"]
    created: int


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "user-data-flywheel"
    # Extension: "champion" or "challenger".
    arm: str | None = None
    # Extension: whether a side_by_side request is answered (a challenger, or --self-comparison).
    side_by_side: bool | None = None


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


def error_body(message: str, param: str | None, code: str,
               kind: str = "invalid_request_error") -> dict[str, Any]:
    """OpenAI's error shape."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}

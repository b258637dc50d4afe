"""Errors that leave the gateway in OpenAI's error shape, and reading a bounded JSON body."""

from __future__ import annotations

import json

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from serving.protocol import error_body


class ApiError(Exception):
    """A refusal: HTTP ``status``, OpenAI error ``code`` and the request field ``param``."""

    def __init__(self, status: int, message: str, param: str | None = None,
                 code: str = "invalid_value", kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind = status, message, param, code, kind

    def response(self) -> JSONResponse:
        return JSONResponse(error_body(self.message, self.param, self.code, self.kind), status_code=self.status)


async def read_json(request: Request, limit: int) -> object:
    """The request body as JSON, refused with 413 past ``limit`` bytes (read no further)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"request body is {declared} bytes, over the {limit}-byte limit",
                       None, "request_too_large")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"request body is over the {limit}-byte limit", None, "request_too_large")
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except (UnicodeDecodeError, ValueError) as error:
        raise ApiError(400, f"request body is not JSON: {error}", None, "invalid_json") from error


_TYPE_TAGS = {"str", "int", "float", "bool", "dict", "list"}


def from_validation(error: ValidationError) -> ApiError:
    """The first pydantic error as one message naming the field (never echoing its value)."""
    first = error.errors(include_url=False, include_input=False)[0]
    # Union members show up in the location ('content', 'str'): keep the field path only.
    parts = [str(p) for p in first["loc"]
             if not (str(p) in _TYPE_TAGS or "[" in str(p) or "-" in str(p))]
    param = ".".join(parts) or None
    code = "missing_field" if first["type"] == "missing" else "invalid_type"
    if first["type"] == "extra_forbidden":
        code = "unknown_field"
    return ApiError(400, f"{param}: {first['msg']}", param, code)

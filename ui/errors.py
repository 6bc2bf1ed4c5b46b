"""The one JSON error shape every API endpoint (and /embed) answers with.

``{"error": {"code": "bad_query", "message": "query is empty", "status": 400}}``

=======  ======================  ====================================================
status   code                    when
=======  ======================  ====================================================
400      bad_query               empty or too long query, ``k`` outside 1..max_k, a bad
                                 filter (date not YYYY-MM-DD, since after until)
400      malformed_body          the body is not JSON (or not UTF-8, or nested too deeply)
400      cors_rejected           a CORS preflight from an origin (or with a method or
                                 header) outside the allow-list
401      unauthorized            an API key is configured and the request lacks it
403      forbidden               writes are off, or the key may read but not write
404      not_found               no such endpoint, or no article with that id
404      index_missing           the server's index directory has no index
405      method_not_allowed      e.g. ``GET /api/ask``
408      request_timeout         the body took longer than ``body_timeout_s`` to arrive
409      index_invalid           the index is corrupt or built with another model
413      body_too_large          the body is larger than ``max_body_bytes``
415      unsupported_media_type  the body is not ``application/json``
422      invalid_request         wrong field types, unknown fields, bad ``mode``,
                                 text with a lone surrogate
429      too_many_requests       too many wrong keys from one address (locked out for
                                 a while), or an embed token's questions over its limit
500      internal_error          a bug; details go to the server log, not the client
501      not_implemented         the engine has no ``delete`` (older engine)
503      shard_unavailable       sharded serving (``--ray``): a shard could not answer
=======  ======================  ====================================================

A :class:`QAError` carries a code only: :data:`HTTP_STATUS` gives each code its status (the
errors of index/ and qa/ know nothing of HTTP). Any other code an error carries is replaced by its
status's code in :data:`STATUS_CODES`, so a client only ever sees the codes above
(:data:`DOCUMENTED_CODES`).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel

from index.errors import QAError

#: The codes a client can see (docs/serving.md lists them; a test checks both agree).
DOCUMENTED_CODES = frozenset({
    "bad_query", "malformed_body", "cors_rejected", "unauthorized", "forbidden", "not_found", "index_missing",
    "method_not_allowed", "request_timeout", "index_invalid", "body_too_large", "unsupported_media_type",
    "invalid_request", "internal_error", "not_implemented", "shard_unavailable", "too_many_requests",
})

#: The code of a status when the error names none (or an undocumented one).
STATUS_CODES = {
    400: "bad_query",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    409: "index_invalid",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    500: "internal_error",
    501: "not_implemented",
    503: "shard_unavailable",
}


#: The HTTP status of every error code: the ``code`` of each :class:`QAError` (a test checks that
#: every one has a status here) and the codes the app answers with itself. The errors of index/
#: and qa/ carry a code only; this table is where they become HTTP.
HTTP_STATUS: dict[str, int] = {
    # the documented codes (DOCUMENTED_CODES)
    "bad_query": 400, "malformed_body": 400, "cors_rejected": 400, "unauthorized": 401, "forbidden": 403,
    "not_found": 404, "index_missing": 404, "method_not_allowed": 405, "request_timeout": 408,
    "index_invalid": 409, "body_too_large": 413, "unsupported_media_type": 415, "invalid_request": 422,
    "too_many_requests": 429, "internal_error": 500, "not_implemented": 501, "shard_unavailable": 503,
    # codes a client never sees: answered with their status's code (STATUS_CODES)
    "bad_request": 400, "bad_input": 400, "empty_corpus": 400, "bad_dataset": 400, "bad_config": 400,
    "budget_exceeded": 400, "ray_unavailable": 503,
}


def status_of(exc: QAError) -> int:
    """The HTTP status the API answers ``exc`` with (400 for a code missing from :data:`HTTP_STATUS`)."""
    return HTTP_STATUS.get(exc.code, 400)


def code_for(status: int, code: str | None) -> str:
    """``code`` when it is documented, else the documented code of ``status`` (4xx: ``invalid_request``,
    5xx: ``internal_error``)."""
    if code in DOCUMENTED_CODES:
        return code  # type: ignore[return-value]
    return STATUS_CODES.get(status, "internal_error" if status >= 500 else "invalid_request")


class ErrorBody(BaseModel):
    code: str
    message: str
    status: int


class ErrorResponse(BaseModel):
    """Every error from the API has this shape."""

    error: ErrorBody


class Unauthorized(QAError):
    code = "unauthorized"


class Forbidden(QAError):
    code = "forbidden"


class TooManyRequests(QAError):
    code = "too_many_requests"


class NotFound(QAError):
    code = "not_found"


class InvalidRequest(QAError):
    code = "invalid_request"


class UnsupportedMediaType(QAError):
    code = "unsupported_media_type"


def error_payload(status: int, code: str | None, message: str) -> dict[str, Any]:
    return {"error": {"code": code_for(status, code), "message": " ".join(str(message).split()),
                      "status": status}}


def error_response(status: int, code: str | None, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_payload(status, code, message), status_code=status, headers=headers)


def shaped_error_body(status: int, body: bytes, content_type: str = "") -> bytes:
    """``body``, an error another component answered (Gradio's ``{"detail": ...}`` or plain text),
    in the one error shape with ``status``'s code; a body already in the shape is kept."""
    message: Any = ""
    text = body.decode("utf-8", "replace")
    if "json" in content_type.lower():
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("error"), dict) and set(data["error"]) == {"code", "message", "status"}:
            return body
        message = data.get("detail", data.get("error", "")) if isinstance(data, dict) else ""
        if isinstance(message, list):  # a validation error list: the first problem, in words
            first = message[0] if message else {}
            message = first.get("msg", "") if isinstance(first, dict) else str(first)
    else:
        message = text
    message = " ".join(str(message or "").split())[:300] or code_for(status, None).replace("_", " ")
    return json.dumps(error_payload(status, None, message)).encode()


def qa_error_response(exc: QAError) -> JSONResponse:
    return error_response(status_of(exc), exc.code, exc.message)


#: For the OpenAPI ``responses=`` of each route.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": code}
    for status, code in ((400, "bad_query or malformed_body"), (401, "unauthorized (when an API key is set)"),
                         (413, "body_too_large"), (415, "unsupported_media_type"),
                         (422, "invalid_request"), (500, "internal_error"))
}

"""The one JSON error shape every API endpoint (and /embed) answers with.

``{"error": {"code": "bad_query", "message": "query is empty", "status": 400}}``

=======  ======================  ====================================================
status   code                    when
=======  ======================  ====================================================
400      bad_query               empty or too long query, ``k`` outside 1..max_k
400      malformed_body          the body is not JSON
401      unauthorized            an API key is configured and the request lacks it
403      forbidden               writes are off, or the key may read but not write
404      not_found               no such endpoint
404      index_missing           the server's index directory has no index
405      method_not_allowed      e.g. ``GET /api/ask``
409      index_invalid           the index is corrupt or built with another model
413      body_too_large          the body is larger than ``max_body_bytes``
415      unsupported_media_type  the body is not ``application/json``
422      invalid_request         wrong field types, unknown fields, bad ``mode``,
                                 text with a lone surrogate
500      internal_error          a bug; details go to the server log, not the client
501      not_implemented         the engine has no ``delete`` (older engine)
=======  ======================  ====================================================
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel

from index.errors import QAError

STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    500: "internal_error",
    501: "not_implemented",
    503: "unavailable",
}


class ErrorBody(BaseModel):
    code: str
    message: str
    status: int


class ErrorResponse(BaseModel):
    """Every error from the API has this shape."""

    error: ErrorBody


class Unauthorized(QAError):
    status = 401
    code = "unauthorized"


class Forbidden(QAError):
    status = 403
    code = "forbidden"


class NotFound(QAError):
    status = 404
    code = "not_found"


class InvalidRequest(QAError):
    status = 422
    code = "invalid_request"


class UnsupportedMediaType(QAError):
    status = 415
    code = "unsupported_media_type"


def error_payload(status: int, code: str | None, message: str) -> dict[str, Any]:
    return {"error": {"code": code or STATUS_CODES.get(status, "error"), "message": " ".join(str(message).split()),
                      "status": status}}


def error_response(status: int, code: str | None, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_payload(status, code, message), status_code=status, headers=headers)


def qa_error_response(exc: QAError) -> JSONResponse:
    return error_response(exc.status, exc.code, exc.message)


#: For the OpenAPI ``responses=`` of each route.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": code}
    for status, code in ((400, "bad_query or malformed_body"), (401, "unauthorized (when an API key is set)"),
                         (413, "body_too_large"), (415, "unsupported_media_type"),
                         (422, "invalid_request"), (500, "internal_error"))
}

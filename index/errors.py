"""Errors a user can cause. Each carries a one-line message fit to print as is."""

from __future__ import annotations


class QAError(Exception):
    """Base class for user-facing errors (bad input, bad index, bad query)."""

    #: HTTP status the API maps this error to.
    status: int = 400
    #: Stable machine-readable code used in the JSON error shape.
    code: str = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))  # always one line

    @property
    def message(self) -> str:
        return str(self)


class IngestError(QAError):
    code = "bad_input"


class EmptyCorpusError(IngestError):
    code = "empty_corpus"


class IndexMissingError(QAError):
    status = 404
    code = "index_missing"


class IndexFormatError(QAError):
    """Corrupt, mismatched or incompatible index."""

    status = 409
    code = "index_invalid"


class ArticleNotFoundError(QAError):
    """An article id that is not in the index (``qa delete``, ``DELETE /api/articles/{id}``)."""

    status = 404
    code = "not_found"


class QueryError(QAError):
    code = "bad_query"

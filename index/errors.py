"""Errors a user can cause. Each carries a one-line message fit to print as is."""

from __future__ import annotations

import re

#: Characters a terminal may act on (C0 controls, DEL, C1 controls, bidi overrides and isolates).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with every control character written as an escape (``\\x1b``, ``\\u202e``), so
    that a file name or a client's string printed in a message cannot drive the terminal."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1] if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text)


class QAError(Exception):
    """Base class for user-facing errors (bad input, bad index, bad query)."""

    #: Stable machine-readable code; the API answers it with the HTTP status that ``ui.errors.HTTP_STATUS``
    #: gives it (index/ knows nothing of HTTP).
    code: str = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(printable(" ".join(str(message).split())))  # always one line, never a control character

    @property
    def message(self) -> str:
        return str(self)


class IngestError(QAError):
    code = "bad_input"


class EmptyCorpusError(IngestError):
    code = "empty_corpus"


class IndexMissingError(QAError):
    code = "index_missing"


class IndexFormatError(QAError):
    """Corrupt, mismatched or incompatible index."""

    code = "index_invalid"


class ArticleNotFoundError(QAError):
    """An article id that is not in the index (``qa delete``, ``DELETE /api/articles/{id}``)."""

    code = "not_found"


class QueryError(QAError):
    code = "bad_query"

"""docs/serving.md's settings table, rendered from :data:`ui.settings.SETTINGS`.

The table sits between :data:`START` and :data:`END` in docs/serving.md; ``python
scripts/settings_table.py`` rewrites it there, and a test fails when the two differ.
"""

from __future__ import annotations

from collections.abc import Sequence

from .settings import SETTINGS, Setting

START = "<!-- settings:start: generated from ui.settings.SETTINGS by `python scripts/settings_table.py`; edit those -->"
END = "<!-- settings:end -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _row(s: Setting) -> str:
    env = f"`{s.env}=1`" if s.env and s.type is bool else f"`{s.env}`" if s.env else ""
    flag = f"`{s.flag} {s.metavar}`" if s.flag and s.metavar else f"`{s.flag}`" if s.flag else ""
    default = s.default_text if s.default_text in ("none", "off") else f"`{s.default_text}`"
    allowed = ""
    if s.number is not None:
        allowed = f"{s.number.low} or more" if s.number.high is None else f"{s.number.low} to {s.number.high}"
    return f"| {env} | {flag} | {default} | {allowed} | {_cell(s.help)} |"


def settings_table(settings: Sequence[Setting] = SETTINGS) -> str:
    """The Markdown table of ``settings``: variable, flag, default, allowed values, meaning."""
    lines = ["| env | flag | default | allowed | meaning |", "|---|---|---|---|---|"]
    return "\n".join(lines + [_row(s) for s in settings])


def with_table(document: str, table: str | None = None) -> str:
    """``document`` with the text between its :data:`START` and :data:`END` lines replaced by
    ``table`` (default: :func:`settings_table`). ``ValueError`` when the markers are missing."""
    table = settings_table() if table is None else table
    start, end = document.find(START), document.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the document has no {START!r} ... {END!r} region")
    return document[: start + len(START)] + "\n\n" + table + "\n\n" + document[end:]

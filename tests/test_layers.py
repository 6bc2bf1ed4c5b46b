"""Issue 25: the layers point one way, index/ -> qa/ -> ui/, with the CLI on top. Every import
statement of every module (function-level ones included, read from the source, not executed) is
checked: index/ imports neither qa/ nor ui/; qa/ imports ui/ only in the commands that start the
server (the CLI's `qa serve` and the cluster's Ray Serve deployment behind `qa serve --ray
--replicas`); and no package imports itself back through another."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("index", "qa", "ui")
#: The only modules of qa/ that may import ui/: they start the server that ui/ is.
SERVE_COMMANDS = {"qa/cli/serve_cmd.py", "qa/cluster/serve.py"}


def imports() -> dict[str, set[str]]:
    """module file (relative) -> the top-level packages of this project it imports."""
    out: dict[str, set[str]] = {}
    for layer in LAYERS:
        for path in (ROOT / layer).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            found = set()
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    found |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom):
                    if node.level:  # relative: inside its own package
                        found.add(path.relative_to(ROOT).parts[0])
                    elif node.module:
                        found.add(node.module.split(".")[0])
            out[path.relative_to(ROOT).as_posix()] = found & set(LAYERS)
    return out


def test_index_imports_neither_qa_nor_ui():
    bad = {f: deps & {"qa", "ui"} for f, deps in imports().items() if f.startswith("index/") and deps & {"qa", "ui"}}
    assert not bad, bad


def test_qa_imports_ui_only_to_start_the_server():
    bad = {f for f, deps in imports().items() if f.startswith("qa/") and "ui" in deps} - SERVE_COMMANDS
    assert not bad, bad


def test_the_http_limits_live_in_ui():
    import index.defaults
    import ui.config

    for name in ("API_MAX_K", "MAX_BODY_BYTES", "MAX_UPLOAD_MB"):
        assert hasattr(ui.config, name) and not hasattr(index.defaults, name), name

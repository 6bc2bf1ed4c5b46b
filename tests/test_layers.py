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


def index_module_imports() -> dict[str, set[str]]:
    """index/ module (``index.x``) -> the other index modules it imports (function-level imports
    included). The package's ``__init__`` is left out: it imports its submodules only lazily or
    for type checkers, and ``from . import __version__`` is no edge."""
    modules = {f"index.{p.stem}" for p in (ROOT / "index").glob("*.py") if p.stem != "__init__"}
    out: dict[str, set[str]] = {}
    for m in sorted(modules):
        tree = ast.parse((ROOT / "index" / f"{m.split('.')[1]}.py").read_text(encoding="utf-8"))
        found = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.ImportFrom):
                base = "index" + (f".{node.module}" if node.module else "") if node.level else (node.module or "")
                if base in modules:
                    found.add(base)
                elif base == "index":  # `from . import progress`: a submodule, or a name of the package
                    found |= {f"index.{a.name}" for a in node.names if f"index.{a.name}" in modules}
        out[m] = found - {m}
    return out


def test_index_modules_import_each_other_without_a_cycle():
    """The store's modules (settings, manifest, tables, generations, store) and the rest of
    index/ form no import cycle: no module needs one that needs it back, directly or not."""
    graph = index_module_imports()
    assert {"index.settings", "index.manifest", "index.tables", "index.generations", "index.store"} <= set(graph)
    done: set[str] = set()

    def visit(m: str, path: tuple[str, ...]) -> None:
        assert m not in path, " -> ".join([*path[path.index(m):], m])
        if m in done:
            return
        for dep in sorted(graph.get(m, ())):
            visit(dep, (*path, m))
        done.add(m)

    for m in sorted(graph):
        visit(m, ())


def test_index_modules_import_no_private_name_of_another():
    """A helper two modules of index/ need is public in one of them, never ``_private``."""
    bad = []
    for path in (ROOT / "index").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("index")):
                bad += [f"{path.name}: {a.name}" for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
    assert not bad, bad

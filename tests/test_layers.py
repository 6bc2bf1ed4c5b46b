"""Issue 25: the layers point one way, index/ -> qa/ -> ui/, with the CLI on top. Every import
statement of every module (function-level ones included, read from the source, not executed) is
checked: index/ imports neither qa/ nor ui/; qa/ imports ui/ only in the commands that start the
server (the CLI's `qa serve` and the cluster's Ray Serve deployment behind `qa serve --ray
--replicas`); and no package imports itself back through another. HTTP lives in ui/ only: its
limits are settings of ui/, and the errors of index/ and qa/ carry a stable code, never an HTTP
status. No module imports another's private (``_name``) names."""

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
    import ui.settings

    for name in ("API_MAX_K", "MAX_BODY_BYTES", "MAX_UPLOAD_MB"):
        assert hasattr(ui.settings, name) and not hasattr(index.defaults, name), name


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


def error_classes() -> list[type]:
    """Every :class:`index.errors.QAError` subclass of index/, qa/ and ui/: the modules whose source
    defines a class with a ``code`` are imported, then the subclasses walked (checked against the
    source, so that a class the walk missed fails here instead of passing unseen)."""
    import importlib

    from index.errors import QAError

    in_source: set[str] = set()
    for layer in LAYERS:
        for path in sorted((ROOT / layer).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            classes = [n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.bases and any(
                isinstance(b, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "code" for t in b.targets)
                for b in n.body)]
            if classes:
                importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"))
                in_source |= set(classes)
    found, todo = [QAError], [QAError]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub.__module__.split(".")[0] in LAYERS and sub not in found:
                found.append(sub)
                todo.append(sub)
    assert in_source <= {c.__name__ for c in found}, in_source - {c.__name__ for c in found}
    return found


def test_errors_outside_ui_carry_no_http_status():
    """index/ and qa/ errors name what went wrong with a code; ``ui.errors.HTTP_STATUS`` makes it
    HTTP. Read from the source too, so that a ``status = 404`` put back in index/errors.py fails."""
    classes = error_classes()
    assert len(classes) >= 10
    assert not [c for c in classes if "status" in vars(c)], [c for c in classes if "status" in vars(c)]
    for layer in ("index", "qa"):
        for path in (ROOT / layer).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ClassDef) and any(isinstance(b, ast.Name) and b.id.endswith("Error") for b in node.bases):
                    assigned = {t.id for a in node.body if isinstance(a, (ast.Assign, ast.AnnAssign))
                                for t in (a.targets if isinstance(a, ast.Assign) else [a.target]) if isinstance(t, ast.Name)}
                    assert "status" not in assigned, f"{path.relative_to(ROOT)}: {node.name}.status"


def private_imports() -> list[str]:
    """``from <project module> import _name`` anywhere in index/, qa/, ui/ and the benchmark and
    training scripts (relative imports included; ``__version__`` and other dunders are public)."""
    bad = []
    for layer in (*LAYERS, "benchmarks", "scripts"):
        for path in sorted((ROOT / layer).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.ImportFrom):
                    continue
                if not node.level and (node.module or "").split(".")[0] not in LAYERS:
                    continue  # another project's private names are its business
                for alias in node.names:
                    if alias.name.startswith("_") and not (alias.name.startswith("__") and alias.name.endswith("__")):
                        bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: {'.' * node.level}{node.module or ''}.{alias.name}")
    return bad


def test_no_module_imports_another_modules_private_names():
    assert private_imports() == []

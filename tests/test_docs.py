"""The documentation names only what exists: every ``qa.``/``index.``/``ui.`` dotted name in
backticks resolves to a real module attribute, every class name in backticks (and its
``Class.attribute``) is defined in the code or is a known outside name, every repository path in
backticks is a file (``path.py::name`` defines ``name``), every relative link and anchor
resolves, and the README says why each declared dependency is there. ``QAService`` and ``Searcher`` outlived their code in three documents; these tests stop
that recurring. The last test feeds each check a stale sample, so none of them can pass vacuously."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "benchmarks" / "README.md"]
PACKAGES = ("index", "qa", "ui")

#: Capitalised names in backticks that are not ours: HTTP words, Python, and classes of
#: FAISS, sentence-transformers, Starlette and Gradio that the docs discuss.
OUTSIDE_NAMES = {"Allow", "Secure", "None", "RecursionError", "CrossEncoder", "CORSMiddleware", "FileData",
                 "IDSelectorBitmap", "IndexFlatIP", "IndexIVFScalarQuantizer"}
FILE_SUFFIXES = {"css", "csv", "faiss", "html", "js", "json", "jsonl", "md", "npy", "png", "py", "sh", "toml", "tsv", "txt"}

SPAN = re.compile(r"`([^`\n]+)`")
DOTTED = re.compile(r"(?:qa|index|ui)(?:\.[A-Za-z_]\w*)+")
CLASS_ATTR = re.compile(r"([A-Z]\w*|engine)\.([A-Za-z_]\w*)")
BARE_CLASS = re.compile(r"[A-Z]\w*")
REPO_PATH = re.compile(r"((?:index|qa|ui|tests|scripts|benchmarks|eval|docs|sample_corpus)/[\w./-]*\w)(?:::(\w+))?")
LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")


def spans(text: str) -> list[str]:
    return SPAN.findall(text)


@cache
def defined_names() -> dict[str, tuple[str, ...]]:
    """Every class, function and module-level or class-level assignment in index/, qa/ and ui/,
    by name -> the modules that define it (read with ast: nothing is imported)."""
    names: dict[str, list[str]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                found: list[str] = []
                if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                    found = [node.name]
                elif isinstance(node, ast.Assign):
                    found = [t.id for t in node.targets if isinstance(t, ast.Name)]
                elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                    found = [node.target.id]
                for name in found:
                    names.setdefault(name, []).append(module)
    return {name: tuple(modules) for name, modules in names.items()}


def has_attribute(obj: object, name: str) -> bool:
    """``obj.name`` exists: an attribute, a dataclass field or annotation without a default, or
    (for a class) an instance attribute its code assigns (``self.name = ...``)."""
    if hasattr(obj, name):
        return True
    if not inspect.isclass(obj):
        return False
    for klass in obj.__mro__:
        if name in getattr(klass, "__dataclass_fields__", {}) or name in getattr(klass, "__annotations__", {}):
            return True
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        if re.search(rf"self\.{name}\s*(?::[^=\n]+)?=", source):
            return True
    return False


def resolve(dotted: str) -> object:
    """The object a dotted name names: the longest importable module prefix, then attributes.
    Raises ``LookupError`` naming what is missing."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        module_name = ".".join(parts[:i])
        try:
            obj: object = importlib.import_module(module_name)
            break
        except ModuleNotFoundError as exc:
            missing = exc.name or ""
            if module_name != missing and not module_name.startswith(missing + "."):
                raise  # the module exists but needs something missing here: a real error
    else:
        raise LookupError(f"no module {parts[0]!r}")
    for j, part in enumerate(parts[i:], start=i):
        if not has_attribute(obj, part):
            raise LookupError(f"{'.'.join(parts[:j])} has no attribute {part!r}")
        obj = getattr(obj, part, None) if hasattr(obj, part) else None
        if obj is None and j < len(parts) - 1:
            raise LookupError(f"cannot look inside {'.'.join(parts[:j + 1])}")
    return obj


def stale_dotted_names(text: str) -> list[str]:
    bad = []
    for span in spans(text):
        m = DOTTED.match(span)
        if not m or m.group(0).rsplit(".", 1)[-1] in FILE_SUFFIXES:
            continue
        try:
            resolve(m.group(0))
        except LookupError as exc:
            bad.append(f"{m.group(0)}: {exc}")
    return bad


def stale_class_names(text: str) -> list[str]:
    names = defined_names()
    bad = []
    for span in spans(text):
        if BARE_CLASS.fullmatch(span) and re.search("[a-z]", span):
            if span not in names and span not in OUTSIDE_NAMES:
                bad.append(f"{span}: defined nowhere in {', '.join(PACKAGES)}")
            continue
        m = CLASS_ATTR.match(span)
        if not m or not re.search("[a-z]", m.group(1)) or m.group(2) in FILE_SUFFIXES:
            continue
        owner, attribute = ("Engine" if m.group(1) == "engine" else m.group(1)), m.group(2)
        if owner in OUTSIDE_NAMES:
            continue
        if owner not in names:
            bad.append(f"{span}: {owner} is defined nowhere in {', '.join(PACKAGES)}")
            continue
        classes = [getattr(importlib.import_module(module), owner, None) for module in names[owner]]
        if not any(has_attribute(c, attribute) for c in classes if c is not None):
            bad.append(f"{span}: {owner} has no {attribute!r}")
    return bad


def missing_paths(text: str) -> list[str]:
    bad = []
    for span in spans(text):
        m = REPO_PATH.fullmatch(span.strip())
        if not m:
            continue
        path, name = ROOT / m.group(1), m.group(2)
        if not path.exists():
            bad.append(f"{m.group(1)}: no such file")
        elif name and path.suffix == ".py":
            tree = ast.parse(path.read_text(encoding="utf-8"))
            if not any(getattr(node, "name", None) == name for node in ast.walk(tree)):
                bad.append(f"{span}: {m.group(1)} defines no {name!r}")
    return bad


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    out: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and (m := re.match(r"#{1,6}\s+(.*)", line)):
            base = slug(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
    return out


def broken_links(path: Path, text: str) -> list[str]:
    bad = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        destination = (path.parent / file_part).resolve() if file_part else path
        if not destination.exists():
            bad.append(f"{target}: no such file")
        elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            bad.append(f"{target}: no heading #{anchor} in {destination.relative_to(ROOT)}")
    return bad


def test_dotted_names_in_the_docs_resolve() -> None:
    bad = {str(p.relative_to(ROOT)): found for p in DOCS if (found := stale_dotted_names(p.read_text(encoding="utf-8")))}
    assert bad == {}


def test_class_names_in_the_docs_exist_with_their_attributes() -> None:
    bad = {str(p.relative_to(ROOT)): found for p in DOCS if (found := stale_class_names(p.read_text(encoding="utf-8")))}
    assert bad == {}


def test_repository_paths_in_the_docs_exist() -> None:
    bad = {str(p.relative_to(ROOT)): found for p in DOCS if (found := missing_paths(p.read_text(encoding="utf-8")))}
    assert bad == {}


def test_relative_links_and_anchors_resolve() -> None:
    bad = {str(p.relative_to(ROOT)): found for p in DOCS if (found := broken_links(p, p.read_text(encoding="utf-8")))}
    assert bad == {}


def test_the_checks_catch_stale_names() -> None:
    """Each check, fed a line naming what no longer exists, reports it (and passes the live names
    beside it): the tests above cannot pass by checking nothing."""
    assert stale_dotted_names("`qa.service.QAService` and `qa.engine.Engine`, `qa.Searcher`, `index.generations.update_settings`") == [
        "qa.service.QAService: qa has no attribute 'service'", "qa.Searcher: qa has no attribute 'Searcher'"]
    assert stale_dotted_names("`qa.engine.Engine.serach(q)` and `qa.engine.Engine.open(dir)`") == [
        "qa.engine.Engine.serach: qa.engine.Engine has no attribute 'serach'"]
    assert [b.split(":")[0] for b in stale_class_names(
        "`Searcher`, `QAService.search`, `Engine.serach`, `engine.watch()`, `Engine.open`, `IndexStats`, "
        "`Answer.reason`, `Citation.quote`, `FileData.path`, `IndexFlatIP`")] == ["Searcher", "QAService.search", "Engine.serach"]
    assert missing_paths("`qa/service.py`, `qa/engine.py`, `index/ingest.py::file_doc_ids`, `index/ingest.py::nope`") == [
        "qa/service.py: no such file", "index/ingest.py::nope: index/ingest.py defines no 'nope'"]
    readme = ROOT / "README.md"
    assert broken_links(readme, "[a](docs/nope.md) [b](docs/serving.md#settings) [c](docs/serving.md#no-such) "
                                "[d](#two-commands) [e](https://example.org/#x)") == [
        "docs/nope.md: no such file", "docs/serving.md#no-such: no heading #no-such in docs/serving.md"]
    assert slug("Ray cluster (`benchmarks/cluster.py`)") == "ray-cluster-benchmarksclusterpy"


def undocumented_dependencies(readme: str, pyproject: str) -> list[str]:
    """Packages pyproject.toml declares (dependencies and every extra) that the README's
    "Dependencies and why" table does not name."""
    import tomllib

    project = tomllib.loads(pyproject)["project"]
    requirements = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    section = readme[readme.index("\n## Dependencies and why\n"):]
    section = section[: section.find("\n## ", 1) if "\n## " in section[1:] else len(section)]
    table = section.lower().replace("_", "-")
    names = [re.match(r"[A-Za-z0-9_.-]+", r).group(0).lower().replace("_", "-") for r in requirements]
    return [n for n in dict.fromkeys(names) if not re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", table)]


def test_every_dependency_says_why_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert undocumented_dependencies(readme, (ROOT / "pyproject.toml").read_text(encoding="utf-8")) == []
    table = "\n## Dependencies and why\n\n| package | why |\n|---|---|\n| onnxruntime, numpy | ... |\n\n## Documentation\n- faiss-cpu\n"
    toml = '[project]\ndependencies = ["onnx>=1", "numpy", "faiss-cpu"]\n[project.optional-dependencies]\nray = ["ray[data]>=2"]\n'
    assert undocumented_dependencies(table, toml) == ["onnx", "faiss-cpu", "ray"]  # the check itself can fail


def test_the_settings_table_is_generated_from_the_settings() -> None:
    """docs/serving.md's settings table is ``ui.settings_doc.settings_table()`` as is (regenerate it
    with ``python scripts/settings_table.py``), and a changed setting shows up as a difference."""
    from dataclasses import replace

    from ui.settings import SETTINGS
    from ui.settings_doc import END, START, settings_table, with_table

    serving = (ROOT / "docs" / "serving.md").read_text(encoding="utf-8")
    assert serving.count(START) == 1 and serving.count(END) == 1
    assert with_table(serving) == serving, "docs/serving.md's settings table is stale: run python scripts/settings_table.py"
    for s in SETTINGS:  # every variable and flag is in the table
        assert all(f"`{name}" in settings_table() for name in (s.env, s.flag) if name), s.field
    changed = [replace(s, default="0.0.0.0") if s.field == "host" else s for s in SETTINGS]
    assert with_table(serving, settings_table(changed)) != serving  # the check can fail

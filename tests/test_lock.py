"""The lock files (issue 25): the versions the suite runs on are the ones pinned, every dependency
pyproject.toml declares is pinned within its range, with hashes, and lxml_html_clean (issue 27,
row 11) is declared."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def pins(name: str) -> dict[str, str]:
    text = (ROOT / name).read_text(encoding="utf-8")
    entries = re.split(r"\n(?=[A-Za-z0-9])", text)
    out = {}
    for entry in entries:
        m = PIN.match(entry)
        if m:
            assert "--hash=sha256:" in entry, f"{name}: {m.group(1)} has no hash"
            out[canonicalize_name(m.group(1))] = m.group(2)
    return out


def declared(*extras: str) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in extras:
        reqs += [Requirement(r) for r in project["optional-dependencies"][extra]]
    return reqs


@pytest.mark.parametrize("lock, extras", [("requirements.lock", ()), ("requirements-test.lock", ("test", "ray"))])
def test_every_declared_dependency_is_pinned_within_its_range(lock, extras):
    locked = pins(lock)
    assert "torch" not in locked  # installed first as the CPU build (scripts/setup.sh)
    for req in declared(*extras):
        name = canonicalize_name(req.name)
        assert name in locked, f"{req.name} is declared in pyproject.toml but not pinned in {lock}: run scripts/lock.sh"
        assert req.specifier.contains(locked[name], prereleases=True), f"{lock}: {req.name}=={locked[name]} not in {req.specifier}"
    assert "lxml-html-clean" in {canonicalize_name(r.name) for r in declared()}  # issue 27, row 11


def test_the_app_lock_is_the_test_lock_narrowed():
    app, test = pins("requirements.lock"), pins("requirements-test.lock")
    assert {k: test.get(k) for k in app} == app


def test_the_suite_runs_on_the_locked_versions():
    """What scripts/setup.sh installed is what requirements-test.lock pins (a venv that drifted, or
    a lock edited without reinstalling, fails here rather than in a figure three files away)."""
    locked = pins("requirements-test.lock")
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    drifted = {k: (v, installed.get(k)) for k, v in locked.items() if installed.get(k) != v}
    assert not drifted, f"installed versions differ from requirements-test.lock (rm -rf .venv; bash scripts/setup.sh test): {drifted}"

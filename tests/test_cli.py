"""The `qa` console script: JSON contract, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from qa.cli import main

from conftest import ROOT, SAMPLE_CORPUS


def run_qa(*args: str, env_index: Path | None = None) -> subprocess.CompletedProcess:
    env = None
    if env_index is not None:
        import os

        env = {**os.environ, "QA_INDEX": str(env_index)}
    return subprocess.run([sys.executable, "-m", "qa", *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)


def test_search_json_contract(sample_index, capsys):
    assert main(["search", "why did Russia withdraw peacekeepers?", "--index", str(sample_index), "-k", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["query"] == "why did Russia withdraw peacekeepers?" and out["mode"] == "hybrid"
    assert [r["rank"] for r in out["results"]] == [1, 2, 3]
    for r in out["results"]:
        assert isinstance(r["score"], float) and isinstance(r["start"], int) and isinstance(r["end"], int)
        assert {"passage_id", "doc_id", "title", "source", "text"} <= set(r)
    assert "002_4f924e5df3fd12e9" in [r["doc_id"] for r in out["results"]]  # the Karabakh article (2nd under DBSF)


def test_search_readable(sample_index, capsys):
    assert main(["search", "Eagle Partner exercises", "--index", str(sample_index), "-k", "2", "--mode", "bm25"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(" 1. [") and "\n 2. [" in out


def test_index_then_search_subprocess(tmp_path):
    idx = tmp_path / "idx"
    r = run_qa("index", str(SAMPLE_CORPUS / "002_4f924e5df3fd12e9.txt"), "--index", str(idx), "--quiet")
    assert r.returncode == 0, r.stderr
    assert "1 articles" in r.stdout
    r = run_qa("search", "peacekeepers", "--json", env_index=idx)  # $QA_INDEX is honoured
    assert r.returncode == 0 and json.loads(r.stdout)["results"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["search", ""], "query is empty"),
        (["search", "x", "-k", "0"], "expected a number >= 1"),
        (["search", "x", "--mode", "magic"], "invalid choice"),
        (["index", "/definitely/not/here"], "no such file or folder"),
    ],
)
def test_bad_input_exit_2_one_line(sample_index, args, message, capsys):
    try:  # argparse errors leave through SystemExit(2), library errors return 2: both must be exit 2
        code = main([*args, "--index", str(sample_index)])
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("qa: error:")


def test_missing_index_exit_2(tmp_path, capsys):
    assert main(["search", "x", "--index", str(tmp_path / "none")]) == 2
    assert "no index at" in capsys.readouterr().err


def test_binary_file_exit_2(tmp_path, capsys):
    f = tmp_path / "a.txt"
    f.write_bytes(b"\x00\x01\x02")
    assert main(["index", str(f), "--index", str(tmp_path / "idx")]) == 2
    assert "binary" in capsys.readouterr().err
    assert not (tmp_path / "idx").exists()



def test_serve_settings_table_matches_the_parser_and_the_environment():
    """Every flag and variable that ``ui/config.py``'s settings table and docs/serving.md's settings
    table name exists: the flag on ``qa serve``, the variable read by ``ServeConfig.from_env`` (or,
    for ``QA_THREADS``, by ``qa serve`` itself); every flag of ``qa serve`` is in the docs' table; and
    a flag reaches the config (``--max-upload-mb`` was once documented but missing)."""
    import inspect
    import re

    import qa.cli.serve_cmd
    import ui.config
    from qa.cli import build_parser

    serve = next(a for a in build_parser()._subparsers._group_actions[0].choices.items() if a[0] == "serve")[1]
    options = {o for a in serve._actions for o in a.option_strings}
    serving = (ROOT / "docs" / "serving.md").read_text(encoding="utf-8")
    table = serving[serving.index("\n## Settings\n"):]
    table = table[table.index("| env |"):]
    table = table[: table.index("\n\n")]
    documented = set(re.findall(r"--[a-z][a-z-]+", ui.config.__doc__ + table))
    assert documented and documented <= options, documented - options
    assert options - {"-h", "--help"} <= set(re.findall(r"--[a-z][a-z-]+", table)), options - set(re.findall(r"--[a-z][a-z-]+", table))
    source = inspect.getsource(ui.config.ServeConfig.from_env)
    variables = set(re.findall(r"QA_[A-Z_]+", ui.config.__doc__ + table))
    assert {v for v in variables if f'"{v}"' not in source and v != "QA_THREADS"} == set()
    assert '"QA_THREADS"' in inspect.getsource(qa.cli.serve_cmd.run)
    assert set(re.findall(r'"(QA_[A-Z_]+)"', source)) <= variables  # and every variable read is documented
    from qa.cli.serve_cmd import serve_config

    config = serve_config(build_parser().parse_args(["serve", "--max-upload-mb", "7", "--index-budget", "9"]))
    assert (config.max_upload_mb, config.index_budget_s) == (7, 9)


def test_readme_python_example_runs_as_written(tmp_path: Path) -> None:
    """The README's Python block and docs/usage.md's, run as a user would (a fresh folder holding the
    sample corpus): it once deleted an id that no index has and filtered on a date no Alwaght article has."""
    import os
    import re
    import shutil

    check = ("\nassert [h.article.doc_id for h in recent] and all(h.article.source == 'Alwaght' for h in recent)"
             "\nassert 'note-1' not in {a.doc_id for a in engine.articles()} and answer.question\n")
    code = ""
    for doc in (ROOT / "README.md", ROOT / "docs" / "usage.md"):  # the README's block, then the fuller one
        text = doc.read_text(encoding="utf-8")
        code += re.search(r"```python\n(.*?)```", text[text.index("\n## Python\n"):], re.S).group(1) + check
    shutil.copytree(ROOT / "sample_corpus", tmp_path / "sample_corpus")
    proc = subprocess.run([sys.executable, "-c", code + "print('README OK')\n"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0 and proc.stdout.rstrip().endswith("README OK"), proc.stderr[-3000:]

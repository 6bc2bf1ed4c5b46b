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



def serve_parser():
    from qa.cli import build_parser

    return next(p for name, p in build_parser()._subparsers._group_actions[0].choices.items() if name == "serve")


#: A valid value other than the default, for the settings whose type says nothing of one.
SAMPLE = {"index_dir": "elsewhere", "host": "127.0.0.2", "api_key": "a" * 12, "write_key": "w" * 12,
          "cors_origins": "https://wiki.example.org"}


def test_every_serve_flag_is_a_setting_and_reaches_the_config():
    """``qa serve``'s flags are those of ``ui.settings.SETTINGS`` (plus the cluster's three), and
    each flag given reaches its ``ServeConfig`` field (``--max-upload-mb`` was once documented but
    never read; ``--threads`` was read outside the config)."""
    from qa.cli import build_parser
    from qa.cli.serve_cmd import serve_config
    from ui.settings import SETTINGS

    options = {o for a in serve_parser()._actions for o in a.option_strings} - {"-h", "--help"}
    assert options == {s.flag for s in SETTINGS if s.flag} | {"--ray", "--shards", "--replicas"}
    for s in SETTINGS:
        if not s.flag:
            continue
        if s.type is bool:
            argv, want = [s.flag], not s.default
        else:
            text = SAMPLE.get(s.field) or str(s.number.low if s.number.low != s.default else s.number.low + 1)
            argv, want = [s.flag, text], s.convert(s.flag, text)
        config = serve_config(build_parser().parse_args(["serve", *argv]))
        assert getattr(config, s.field) == want != s.default, s.flag


@pytest.mark.parametrize("argv, message", [
    (["--max-k", "0"], "--max-k must be a whole number between 1 and 1000, got 0"),
    (["--threads", "many"], "--threads must be a whole number >= 1, got 'many'"),
    (["--api-key", "short"], "--api-key is 5 characters"),
])
def test_a_bad_serve_flag_is_one_line_naming_the_flag(tmp_path, argv, message, capsys):
    assert main(["serve", "--index", str(tmp_path / "none"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"qa: error: {message}") and err.count("\n") == 1, err


def test_a_bad_qa_threads_stops_qa_serve_with_the_same_line_as_everywhere(tmp_path, monkeypatch, capsys):
    """``QA_THREADS=abc``: ``qa serve`` once ran with 1 thread where ``qa index`` stopped; now both
    read it with ``index.defaults.default_threads``'s rule, before anything is loaded or bound."""
    from index import QAError
    from index.defaults import default_threads

    monkeypatch.setenv("QA_THREADS", "abc")
    assert main(["serve", "--index", str(tmp_path / "none"), "--port", "0"]) == 2  # no index there: never reached
    err = capsys.readouterr().err
    with pytest.raises(QAError) as raised:
        default_threads()  # what `qa index` and `qa eval` meet
    assert err == f"qa: error: {raised.value}\n" == "qa: error: QA_THREADS must be a whole number >= 1, got 'abc'\n"


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

"""Progress for long jobs when stderr is a log: a heartbeat line every few seconds with the
current stage (index/progress.py), and `qa index` printing it when redirected."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time

from index import progress

from conftest import ROOT, SAMPLE_CORPUS


def test_heartbeat_prints_the_current_stage_every_interval():
    out = io.StringIO()
    with progress.heartbeat(seconds=0.05, file=out):
        with progress.stage("embedding", 200, "passage") as s:
            s.update(50)
            time.sleep(0.3)
    lines = out.getvalue().splitlines()
    assert len(lines) >= 3
    assert all(re.fullmatch(r"qa: 0:00:0\d elapsed( · .*)?", ln) for ln in lines), lines
    assert "qa: 0:00:00 elapsed · embedding 50/200 passages (25%)" in lines
    assert progress.status() == ""  # reset when the job ends


def test_a_finished_stage_is_not_reported_and_an_outer_one_shows_again():
    """A query's embedding (a short inner stage) must not stay "current" after it ends: qa eval's
    log once showed "embedding 1/1 passage" for the whole evaluation."""
    with progress.heartbeat(seconds=60, file=io.StringIO()):
        with progress.stage("chunking, embedding and writing", 100, "%") as outer:
            outer.update(10)
            with progress.stage("embedding", 1, "passage") as inner:
                inner.update(1)
                assert progress.status() == "chunking, embedding and writing 10/100 % (10%) › embedding 1/1 passage (100%)"
            assert progress.status() == "chunking, embedding and writing 10/100 % (10%)"
            outer.update(5)
            assert progress.status().startswith("chunking, embedding and writing 15/100")
        assert progress.status() == ""
        progress.stage("embedding", 3, "passage").close()  # closed without a with block
        assert progress.status() == ""


def test_heartbeat_disabled_prints_nothing():
    out = io.StringIO()
    with progress.heartbeat(enabled=False, seconds=0.01, file=out):
        time.sleep(0.1)
    assert out.getvalue() == ""


def test_qa_index_prints_progress_lines_when_stderr_is_not_a_terminal(tmp_path):
    env = {**os.environ, "QA_PROGRESS_SECONDS": "0.2", "PYTHONPATH": str(ROOT)}
    one = str(SAMPLE_CORPUS / "003_c2bac14ba13bc252.txt")
    r = subprocess.run([sys.executable, "-m", "qa", "index", one, "--index", str(tmp_path / "idx")],
                       capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    beats = [ln for ln in r.stderr.splitlines() if re.match(r"qa: \d:\d\d:\d\d elapsed", ln)]
    assert beats, r.stderr
    assert not [ln for ln in r.stderr.splitlines() if ln not in beats and not ln.startswith("qa: ")], r.stderr  # no noise
    assert "1 articles" in r.stdout
    quiet = subprocess.run([sys.executable, "-m", "qa", "index", one, "--index", str(tmp_path / "idx2"), "--quiet"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert quiet.returncode == 0 and "elapsed" not in quiet.stderr

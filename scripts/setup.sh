#!/usr/bin/env bash
# Create .venv and install the project from the lock files (every version pinned, with hashes:
# requirements.lock, or requirements-test.lock for `test`; refresh them with scripts/lock.sh).
# Idempotent: re-running is quick when nothing changed.
#   bash scripts/setup.sh          # the app
#   bash scripts/setup.sh test     # the app + test tools (pytest, rank-bm25, playwright, Chromium) + the
#                                  # cluster extra (Ray), so tests/test_cluster.py runs a real local cluster
# Prints one line per step; third-party noise a user cannot act on (pip's version check,
# setuptools' editable-install banner) is kept out. Errors are shown in full.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
PY="${PYTHON:-python3}"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
say() { echo "setup: $*" >&2; }
if ! "$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
  say "error: the lock files are for Python 3.11; $PY is $("$PY" --version 2>&1) (set PYTHON=python3.11)"
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $("$PY" --version 2>&1)"
  "$PY" -m venv .venv
fi
lock="requirements.lock"
[ "$extras" = "test" ] && lock="requirements-test.lock"
stamp=".venv/.installed-$(cat pyproject.toml "$lock" | sha1sum | cut -c1-12)-${extras:-app}"
if [ ! -f "$stamp" ]; then
  say "installing dependencies into .venv (first run: a few minutes, about 1 GB)"
  .venv/bin/python -m pip install -q --upgrade pip
  # CPU build of torch first: a plain `torch` requirement would pull several GB of CUDA wheels.
  say "  torch 2.13.0 (CPU build)"
  .venv/bin/python -m pip install -q "torch==2.13.0"
  say "  the locked dependencies ($lock: sentence-transformers, FAISS, bm25s, Gradio, FastAPI, …${extras:+; pytest, Playwright and Ray for the tests})"
  # --no-deps: the lock is the whole set (torch, installed above, aside); --require-hashes: byte for byte
  .venv/bin/python -m pip install -q --require-hashes --no-deps -r "$lock"
  say "  newsqa itself (editable)"
  # PYTHONWARNINGS: setuptools prints an 11-line "Editable installation" banner as a warning.
  PYTHONWARNINGS="ignore::UserWarning" .venv/bin/python -m pip install -q --no-deps -e .
  .venv/bin/python -m pip check >/dev/null || { .venv/bin/python -m pip check >&2; say "the lock does not satisfy pyproject.toml: run scripts/lock.sh"; exit 1; }
  rm -f .venv/.installed-*
  touch "$stamp"
  say "installed"
fi
if [ "$extras" = "test" ] && [ ! -x /usr/bin/chromium ]; then
  # Browser tests drive Debian's Chromium (playwright cannot download browsers here).
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    say "installing Debian chromium for the browser tests"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || say "warning: could not install chromium; browser tests will be skipped"
  else
    say "warning: /usr/bin/chromium missing (apt-get install chromium); browser tests will be skipped"
  fi
fi

#!/usr/bin/env bash
# Create .venv and install the project. Idempotent: re-running is quick when nothing changed.
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
if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $("$PY" --version 2>&1)"
  "$PY" -m venv .venv
fi
stamp=".venv/.installed-$(sha1sum < pyproject.toml | cut -c1-12)-${extras:-app}"
if [ ! -f "$stamp" ]; then
  say "installing dependencies into .venv (first run: a few minutes, about 1 GB)"
  .venv/bin/python -m pip install -q --upgrade pip
  # CPU build of torch first: a plain `torch` requirement would pull several GB of CUDA wheels.
  say "  torch 2.13.0 (CPU build)"
  .venv/bin/python -m pip install -q "torch==2.13.0"
  target="."
  [ "$extras" = "test" ] && target=".[test,ray]"
  say "  newsqa and its dependencies (sentence-transformers, FAISS, bm25s, Gradio, FastAPI, …${extras:+; Ray for the cluster tests})"
  # PYTHONWARNINGS: setuptools prints an 11-line "Editable installation" banner as a warning.
  PYTHONWARNINGS="ignore::UserWarning" .venv/bin/python -m pip install -q -e "$target"
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

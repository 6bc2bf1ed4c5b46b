#!/usr/bin/env bash
# Create .venv and install the project. Idempotent: re-running is quick when nothing changed.
#   bash scripts/setup.sh          # the app
#   bash scripts/setup.sh test     # the app + test tools (pytest, rank-bm25, playwright, Chromium)
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv" >&2
  "$PY" -m venv .venv
fi
stamp=".venv/.installed-$(cat pyproject.toml | sha1sum | cut -c1-12)-${extras:-app}"
if [ ! -f "$stamp" ]; then
  echo "setup: installing dependencies (first run takes a few minutes)" >&2
  .venv/bin/python -m pip install -q --upgrade pip
  # CPU build of torch first: a plain `torch` requirement would pull several GB of CUDA wheels.
  .venv/bin/python -m pip install -q "torch==2.13.0"
  if [ "$extras" = "test" ]; then
    .venv/bin/python -m pip install -q -e ".[test]"
  else
    .venv/bin/python -m pip install -q -e .
  fi
  touch "$stamp"
fi
if [ "$extras" = "test" ] && [ ! -x /usr/bin/chromium ]; then
  # Browser tests drive Debian's Chromium (playwright cannot download browsers here).
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "setup: installing Debian chromium for the browser tests" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "setup: warning: could not install chromium; browser tests will be skipped" >&2
  else
    echo "setup: warning: /usr/bin/chromium missing (apt-get install chromium); browser tests will be skipped" >&2
  fi
fi

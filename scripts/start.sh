#!/usr/bin/env bash
# Set up, index the sample corpus if there is no index yet, and serve the web UI + API.
#   bash scripts/start.sh [--host 127.0.0.1] [--port 7860]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export QA_INDEX="${QA_INDEX:-qa-index}"
if [ ! -f "$QA_INDEX/manifest.json" ]; then
  echo "start: no index at $QA_INDEX yet: indexing sample_corpus/ (the first run also prepares the model, about a minute)" >&2
  .venv/bin/qa index sample_corpus --index "$QA_INDEX"
fi
exec .venv/bin/qa serve --index "$QA_INDEX" "$@"

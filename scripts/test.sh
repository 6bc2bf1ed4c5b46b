#!/usr/bin/env bash
# Set up (with test tools) and run the default test tier. Extra arguments go to pytest.
#   bash scripts/test.sh            # the default tier (about 4 minutes on 2 busy cores)
#   bash scripts/test.sh -m tier2   # the second tier: script and benchmark runs, live servers, browser,
#                                   # Ray cluster, every answer question (about 6 minutes; CI runs both)
#   bash scripts/test.sh -m slow    # full public-collection checks (in neither tier)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
exec .venv/bin/python -m pytest "$@"

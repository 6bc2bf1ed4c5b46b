#!/usr/bin/env bash
# Set up (with test tools) and run the default test suite. Extra arguments go to pytest.
#   bash scripts/test.sh            # default suite (a few minutes)
#   bash scripts/test.sh -m slow    # full public-collection checks
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
exec .venv/bin/python -m pytest "$@"

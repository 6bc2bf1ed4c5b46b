"""Regenerate the settings table in docs/serving.md from ``ui.settings.SETTINGS``.

    python scripts/settings_table.py           # rewrite the table between the settings markers
    python scripts/settings_table.py --check   # exit 1, writing nothing, when the table is stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ui.settings_doc import with_table  # noqa: E402

DOC = ROOT / "docs" / "serving.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check: exit 1 when docs/serving.md is stale")
    args = parser.parse_args(argv)
    text = DOC.read_text(encoding="utf-8")
    fresh = with_table(text)
    if fresh == text:
        return 0
    if args.check:
        print(f"{DOC.relative_to(ROOT)}: the settings table is stale; run python scripts/settings_table.py",
              file=sys.stderr)
        return 1
    DOC.write_text(fresh, encoding="utf-8")
    print(f"rewrote the settings table in {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

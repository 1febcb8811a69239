"""Regenerate the tables of README.md that come from the code (``make readme``)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from uas_pipeline.plan import ownership_markdown

README = Path(__file__).resolve().parents[1] / "README.md"
_TABLE = re.compile(r"(<!-- ownership-table:start -->\n).*?(<!-- ownership-table:end -->)", re.S)


def updated(text: str) -> str:
    return _TABLE.sub(lambda m: m.group(1) + ownership_markdown() + m.group(2), text)


if __name__ == "__main__":
    new = updated(README.read_text())
    changed = new != README.read_text()
    README.write_text(new)
    print("README.md updated" if changed else "README.md already up to date")
    sys.exit(0)

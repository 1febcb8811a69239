"""Screenshots of an HTML report in headless chromium (the pictures in docs/ come from here).

    python scripts/report_screenshots.py REPORT_DIR --out docs/report-screenshot.png \
        [--clip CLIP_ID --clip-out docs/report-clip.png] [--height 1800]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.browser import browser_missing, chromium  # noqa: E402


def _wait(driver, script: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not driver.execute_script(script):
        if time.monotonic() > deadline:
            raise TimeoutError(script)
        time.sleep(0.1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("report", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--height", type=int, default=1800)
    parser.add_argument("--clip", default=None, help="also open this clip and screenshot its detail view")
    parser.add_argument("--clip-out", type=Path, default=None)
    args = parser.parse_args()
    if browser_missing():
        print(f"cannot take screenshots: {browser_missing()}", file=sys.stderr)
        return 2
    index = (args.report / "index.html").resolve()
    with chromium(width=1400, height=args.height) as driver:
        driver.get(index.as_uri())
        _wait(driver, "return document.body.dataset.ready === '1'")
        driver.save_screenshot(str(args.out))
        if args.clip:
            driver.get(index.as_uri() + "#clip=" + args.clip)
            driver.refresh()
            _wait(driver, "const i = document.querySelector('#detail-timeline img');"
                          "return i && i.complete && i.naturalWidth > 0")
            _wait(driver, "return document.getElementById('detail-record').textContent.startsWith('{')")
            driver.save_screenshot(str(args.clip_out))
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    for error in errors:
        print(f"console error: {error['message']}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

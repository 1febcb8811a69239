"""A headless Debian chromium driven by selenium, for the HTML report tests.

``make setup`` installs chromium and chromedriver (``docker/browser-deps.sh``) and selenium (the
``report`` extra). Selenium is pointed at the system chromedriver, so selenium-manager never tries
to download a browser. Tests skip with the reason when any piece is missing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required",
)


def _find(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or ``None``."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install 'uas-pipeline[report]')"
    if not _find(os.environ.get("CHROMIUM", "chromium"), "chromium-browser"):
        return "Debian's chromium is not installed (run docker/browser-deps.sh or make setup)"
    if not _find("chromedriver"):
        return "chromedriver is not installed (apt-get install chromium-driver; docker/browser-deps.sh)"
    return None


@contextmanager
def chromium(width: int = 1400, height: int = 1000) -> Iterator:
    """A selenium Chrome driver on the system chromium with an empty profile; skips when missing."""
    reason = browser_missing()
    if reason:
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="uas-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = _find(os.environ.get("CHROMIUM", "chromium"), "chromium-browser")
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(_find("chromedriver")), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)

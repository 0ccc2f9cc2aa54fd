"""Headless chromium (Debian's, driven by Playwright) and a running annotation server.

The browser tests need ``/usr/bin/chromium`` (``make browser`` installs it) and the
``playwright`` Python package (the ``dev`` extra). Playwright's own browser downloads are
never used: the system chromium is launched by path.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="module")
def chromium():
    """One browser per test module (launching takes about two seconds). Not per session:
    Playwright's sync API keeps an asyncio loop running in the main thread while it lives,
    and the launch tests (tests/ros/test_launch_*.py) run their own loop there later."""
    if not Path(CHROMIUM).exists():
        pytest.skip("headless chromium is not installed: run `make browser` "
                    "(apt-get install chromium) to run the annotation page tests")
    sync_api = pytest.importorskip(
        "playwright.sync_api",
        reason="the playwright package is missing: pip install -e '.[dev]'")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def context(chromium) -> Iterator:
    """A fresh browser profile per test, with a fixed window size so layouts repeat."""
    ctx = chromium.new_context(viewport={"width": 1400, "height": 900})
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()

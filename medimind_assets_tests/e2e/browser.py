"""Headless Chromium for the web UI test: the system's Debian `chromium`, driven by Playwright (never a
downloaded browser), and the few Dagster UI interactions the test needs."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CHROMIUM = Path(os.environ.get("MEDIMIND_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PAGE_VIEWPORT = {"width": 1600, "height": 1000}
# Wide enough that the fitted asset graph draws full asset cards (names, checks, materialization status).
GRAPH_VIEWPORT = {"width": 2200, "height": 1100}


def chromium_missing_reason() -> str | None:
    """Why the browser part cannot run here, or None when it can."""
    if not CHROMIUM.is_file():
        return f"{CHROMIUM} not found: install Debian's chromium (.ci/system-deps.sh)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install playwright)"
    return None


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (a Playwright Browser); closed, with its processes, on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: Any, viewport: dict[str, int], scale: float = 1.0, timeout_ms: int = 30_000) -> Any:
    page = browser.new_page(viewport=viewport, device_scale_factor=scale)
    page.set_default_timeout(timeout_ms)
    return page


def wait_for_texts(page: Any, texts: list[str], timeout_s: float = 30.0) -> list[str]:
    """Poll the page until every text shows; returns those still missing at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        body = page.inner_text("body")
        missing = [text for text in texts if text not in body]
        if not missing or time.monotonic() > deadline:
            return missing
        page.wait_for_timeout(500)


def open_expanded_asset_graph(page: Any, base_url: str, a_group: str) -> None:
    """The global asset graph with every group expanded (Alt+E), reloaded so the layout fits the view."""
    page.goto(f"{base_url}/asset-groups")
    page.get_by_text(a_group, exact=True).first.wait_for()
    page.keyboard.press("Alt+e")
    page.wait_for_url("**expanded=**")
    page.goto(page.url)


def graph_clip(page: Any, margin: float = 20.0) -> dict[str, float] | None:
    """The rectangle around the drawn graph (its groups and asset cards), for a tight screenshot."""
    boxes = [box for box in (el.bounding_box() for el in page.locator("svg foreignObject").all()) if box]
    boxes = [box for box in boxes if box["width"] > 20 and box["height"] > 20]
    if not boxes:
        return None
    left = max(0.0, min(box["x"] for box in boxes) - margin)
    top = max(0.0, min(box["y"] for box in boxes) - margin)
    viewport = page.viewport_size
    right = min(viewport["width"], max(box["x"] + box["width"] for box in boxes) + margin)
    bottom = min(viewport["height"], max(box["y"] + box["height"] for box in boxes) + margin)
    return {"x": left, "y": top, "width": right - left, "height": bottom - top}


def filter_metadata(page: Any, text: str) -> None:
    """Type into the asset page's metadata filter, so the rows that matter are on screen."""
    box = page.get_by_placeholder("Filter metadata keys")
    box.fill(text)
    box.scroll_into_view_if_needed()

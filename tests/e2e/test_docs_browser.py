"""/docs and /redoc render in headless Chromium with every request beyond the API refused: the
Swagger UI and ReDoc assets come from the API itself (fastapi-offline), not from a CDN."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from moviescore.config import Settings
from tests.helpers import live
from tests.helpers.browser import CHROMIUM, CHROMIUM_ARGS
from tests.helpers.processes import free_port, running

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not installed"),
]


def test_docs_and_redoc_render_offline(settings: Settings, tmp_path: Path) -> None:
    from playwright.sync_api import Route, expect, sync_playwright

    port = free_port()
    api = f"http://127.0.0.1:{port}"
    refused: list[str] = []

    def only_the_api(route: Route) -> None:
        if urlsplit(route.request.url).netloc == f"127.0.0.1:{port}":
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    with (
        running(live.api_command(port), f"{api}/health", tmp_path / "api.log"),
        sync_playwright() as pw,
    ):
        # no DNS either: nothing but the loopback API is reachable
        args = [*CHROMIUM_ARGS, "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=args, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 1300})
            page.set_default_timeout(30_000)
            page.route("**/*", only_the_api)
            page.goto(f"{api}/docs")
            expect(page.get_by_text("Predict one film's rating", exact=False).first).to_be_visible()
            expect(page.locator(".opblock-summary-path", has_text="/predict/batch")).to_be_visible()
            page.goto(f"{api}/redoc")
            heading = page.get_by_role("heading", name="Predict up to 1,000 films in one call")
            expect(heading).to_be_visible()
        finally:
            browser.close()
    # ReDoc's bundle links its "API docs by Redocly" footer logo to its CDN; nothing else leaves
    assert set(refused) <= {"https://cdn.redoc.ly/redoc/logo-mini.svg"}, refused

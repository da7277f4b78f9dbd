"""End to end: headless Chromium fills the Streamlit form, which asks the live API, which serves
a champion it loaded from SeaweedFS. Saves the page as docs/ui-predict.png."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest

from moviescore.config import Settings
from tests.helpers import live
from tests.helpers.processes import free_port, running

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
SCREENSHOT = live.REPO / "docs" / "ui-predict.png"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not installed"),
]


@pytest.fixture
def stack(s3_settings: Settings, tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """API (champion from SeaweedFS) + Streamlit UI on free loopback ports: (ui, api, version)."""
    from moviescore.registry.store import Registry

    version = live.promote(Registry.from_settings(s3_settings))
    api_port, ui_port = free_port(), free_port()
    api = f"http://127.0.0.1:{api_port}"
    ui = f"http://127.0.0.1:{ui_port}"
    with (
        running(live.api_command(api_port), f"{api}/ready", tmp_path / "api.log"),
        running(
            live.streamlit_command(ui_port),
            f"{ui}/_stcore/health",
            tmp_path / "ui.log",
            env=os.environ | {"API_URL": api},
        ),
    ):
        yield ui, api, version


def test_predict_in_the_browser(stack: tuple[str, str, str]) -> None:
    from playwright.sync_api import expect, sync_playwright

    ui, api, version = stack
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 1300})
            page.set_default_timeout(30_000)
            page.goto(ui)
            page.get_by_label("Title").fill("The Last Orbit")
            page.get_by_label("Overview").fill(
                "An ageing astronaut returns to space for one final, brilliant mission."
            )
            genres = page.get_by_test_id("stMultiSelect").locator("input")
            for genre in ("Science Fiction", "Drama"):
                genres.fill(genre)
                genres.press("Enter")
            page.get_by_label("Runtime (min)").fill("128")
            page.get_by_role("button", name="Predict rating").click()
            value = page.get_by_test_id("stMetricValue")
            expect(value).to_have_text(re.compile(r"^\d+\.\d\d / 10$"))
            expect(page.get_by_text(f"Answered by model {version}")).to_be_visible()
            expect(page.get_by_text("Overview sentiment: polarity +")).to_be_visible()
            shown = float(value.inner_text().split("/")[0])
            SCREENSHOT.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            browser.close()
    assert 0 <= shown <= 10
    # The UI shows what the API answers for the same movie (genres and runtime included).
    answer = httpx.post(
        f"{api}/predict",
        json={
            "title": "The Last Orbit",
            "overview": "An ageing astronaut returns to space for one final, brilliant mission.",
            "genres": ["Science Fiction", "Drama"],
            "original_language": "en",
            "runtime": 128,
            "budget": 20_000_000,
            "release_date": date.today().isoformat(),  # the form's default
        },
    ).json()
    assert shown == pytest.approx(answer["predicted_rating"], abs=0.01)

"""End to end: headless Chromium fills the whole Streamlit form, which asks the live API, which
serves a champion it loaded from SeaweedFS; then it opens the Models page. Saves both pages as
docs/ui-predict.png and docs/ui-models.png.

The interval, the contribution chart and the comparable films are asserted strictly when the
served API advertises `POST /predict?explain=` in its OpenAPI schema (issue 13's API); an older
API's answer has none of them and the page must then say so instead of failing."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from moviescore.config import Settings
from moviescore.studio.client import explains
from tests.helpers import live
from tests.helpers.browser import CHROMIUM, CHROMIUM_ARGS
from tests.helpers.processes import free_port, running

if TYPE_CHECKING:
    from playwright.sync_api import Page

DOCS = live.REPO / "docs"
MOVIE = {
    "title": "The Last Orbit",
    "overview": "An ageing astronaut returns to space for one final, brilliant mission.",
    "tagline": "Some journeys never end.",
    "genres": ["Science Fiction", "Drama"],
    "original_language": "en",
    "runtime": 128,
    "budget": 95_000_000,
    "release_date": "2027-05-14",
    "keywords": ["astronaut", "space mission"],
    "production_companies": ["Orbit Pictures", "Lunar Films"],
    "production_countries": ["FR"],
    "spoken_languages": ["en"],
    "homepage": "https://example.org/orbit",
}

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not installed"),
]


@pytest.fixture
def stack(s3_settings: Settings, tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """API (champion from SeaweedFS) + Streamlit UI on free loopback ports: (ui, api, version).
    Two versions are published and a later run kept the champion, so the Models page has runs
    to pick and versions to diff."""
    from moviescore.registry.store import Registry

    registry = Registry.from_settings(s3_settings)
    live.promote(registry, seed=0, named=True)
    version = live.promote(registry, seed=1, named=True)  # its films have keywords, companies
    live.write_kept_run(registry)
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


def fill_form(page: Page) -> None:
    page.get_by_label("Title", exact=True).fill(MOVIE["title"])
    page.get_by_label("Tagline", exact=True).fill(MOVIE["tagline"])
    page.get_by_label("Overview", exact=True).fill(MOVIE["overview"])

    def choose(label: str, *typed: str) -> None:
        box = page.get_by_test_id("stMultiSelect").filter(has_text=label).locator("input")
        for text in typed:
            box.fill(text)
            box.press("Enter")

    def pick(label: str, typed: str, suggested: str) -> None:
        """Type the start of a name and click the model's suggestion in the list."""
        page.get_by_test_id("stMultiSelect").filter(has_text=label).locator("input").fill(typed)
        page.get_by_role("option", name=suggested, exact=True).click()

    choose("Genres", *MOVIE["genres"])
    page.get_by_label("Runtime (min)", exact=True).fill("128")
    page.get_by_label("Budget (million USD)", exact=True).fill("95")
    # A segmented date field (year / month / day): type into its first segment, it moves on.
    page.get_by_label("Release date", exact=True).get_by_role("spinbutton").first.click()
    page.keyboard.type("20270514")
    pick("Keywords", "astro", "astronaut")
    pick("Keywords", "SPACE m", "space mission")
    pick("Production companies", "orbit", "Orbit Pictures")
    choose("Production companies", "Lunar Films")  # not one the model knows: typed, kept
    choose("Production countries", "France")
    choose("Spoken languages", "English")
    page.get_by_label("Homepage", exact=True).fill(MOVIE["homepage"])


def test_predict_and_models_in_the_browser(stack: tuple[str, str, str]) -> None:
    from playwright.sync_api import expect, sync_playwright

    ui, api, version = stack
    expect.set_options(timeout=60_000)  # a loaded machine: Streamlit's first run takes seconds
    strict = explains(httpx.get(f"{api}/openapi.json").json())
    answer = httpx.post(f"{api}/predict", params={"explain": "true"}, json=MOVIE).json()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1300})
            page.set_default_timeout(60_000)
            page.goto(ui)
            expect(page.get_by_text("API up and ready")).to_be_visible()
            fill_form(page)
            page.get_by_role("button", name="Predict rating").click()
            value = page.get_by_test_id("stMetricValue").first
            expect(value).to_have_text(re.compile(r"^\d+\.\d\d / 10$"))
            expect(page.get_by_text(f"Answered by model {version}")).to_be_visible()
            shown = float(value.inner_text().split("/")[0])
            charts = page.get_by_test_id("stVegaLiteChart")
            if strict or "interval" in answer:
                expect(page.get_by_text(re.compile(r"^80% interval: \d"))).to_be_visible()
            else:
                expect(page.get_by_text("gives no interval")).to_be_visible()
            if strict or "explanation" in answer:
                expect(charts).to_have_count(2)  # the contributions and the what-if
                expect(page.get_by_text("Comparable films the model learned from")).to_be_visible()
            else:
                expect(page.get_by_text("does not explain its ratings")).to_be_visible()
                expect(charts).to_have_count(1)  # the what-if
            for warning in answer.get("warnings", []):
                expect(page.get_by_text(warning)).to_be_visible()
            page.wait_for_timeout(1_000)  # let the charts finish drawing
            # Streamlit scrolls inside its own container: a full-page shot is the viewport.
            page.set_viewport_size({"width": 1500, "height": 2000})
            page.screenshot(path=str(DOCS / "ui-predict.png"), full_page=True)

            page.get_by_test_id("stSidebar").get_by_text("Models", exact=True).click()
            expect(page.get_by_text("Every pipeline run")).to_be_visible()
            expect(page.get_by_text("Compare two versions")).to_be_visible()
            expect(page.get_by_test_id("stVegaLiteChart")).to_have_count(1)  # RMSE per run
            page.set_viewport_size({"width": 1500, "height": 2200})
            page.wait_for_timeout(1_000)
            page.screenshot(path=str(DOCS / "ui-models.png"), full_page=True)
        finally:
            browser.close()
    # The UI shows what the API answers for the same, fully described movie.
    assert shown == pytest.approx(answer["predicted_rating"], abs=0.01)

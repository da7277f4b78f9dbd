"""Request and response bodies of the API.

The bounds here are the service's first line of defence: anything outside them is a 422 that
names the field, so the model only ever sees values it can turn into features.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from moviescore.ingest.raw_movie import RAW_COLUMNS

MAX_BATCH = 1000
MAX_LIST_ITEMS = 100


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _has_text(value: str) -> str:
    if not value.strip():
        raise ValueError("must contain a non-whitespace character")
    return value


def _iso_text(value: Any) -> Any:
    # pydantic would read 0 or "1700000000" as a Unix time: a date is only ever YYYY-MM-DD text
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DAY.fullmatch(value)):
        return value
    raise ValueError("must be an ISO date YYYY-MM-DD")


Name = Annotated[str, Field(min_length=1, max_length=200)]
# fail_fast: a list of 150,000 bad items is one error, not 150,000 (the 422 stays small and quick)
NameList = Annotated[list[Name], Field(max_length=MAX_LIST_ITEMS, fail_fast=True)]
IsoCode = Annotated[str, Field(min_length=2, max_length=3, pattern=r"^[A-Za-z]{2,3}$")]
IsoCodeList = Annotated[list[IsoCode], Field(max_length=MAX_LIST_ITEMS, fail_fast=True)]

EXAMPLE_MOVIE: dict[str, Any] = {
    "title": "The Last Orbit",
    "overview": "An ageing astronaut returns to space for one final mission to save her "
    "daughter's stranded crew, and finds that the real danger is what they brought with them.",
    "tagline": "Some journeys never end.",
    "genres": ["Science Fiction", "Drama", "Thriller"],
    "original_language": "en",
    "runtime": 128,
    "budget": 95_000_000,
    "release_date": "2027-05-14",
    "keywords": ["astronaut", "space mission", "mother daughter relationship"],
    "production_companies": ["Orbit Pictures"],
    "production_countries": ["US"],
    "spoken_languages": ["en"],
    "homepage": None,
}


class MovieIn(BaseModel):
    """A film as its producer describes it before release."""

    model_config = ConfigDict(
        extra="forbid", allow_inf_nan=False, json_schema_extra={"examples": [EXAMPLE_MOVIE]}
    )

    title: Annotated[str, AfterValidator(_has_text)] = Field(min_length=1, max_length=500)
    overview: str = Field("", max_length=10_000)
    tagline: str | None = Field(None, max_length=1_000)
    genres: NameList = Field(default_factory=list, description="TMDB genre names")
    original_language: IsoCode = Field(description="ISO 639-1 code, e.g. 'en'")
    runtime: float | None = Field(None, ge=0, le=1000, description="minutes")
    budget: float | None = Field(None, ge=0, le=1e10, description="USD; 0 = unknown")
    release_date: Annotated[date, BeforeValidator(_iso_text)] = Field(
        ge=date(1870, 1, 1), le=date(2100, 12, 31)
    )
    keywords: NameList | None = Field(
        None, description="TMDB keywords; leave out when unknown (an empty list means 'none')"
    )
    production_companies: NameList = Field(default_factory=list)
    production_countries: IsoCodeList = Field(default_factory=list, description="ISO 3166-1 codes")
    spoken_languages: IsoCodeList = Field(default_factory=list, description="ISO 639-1 codes")
    homepage: str | None = Field(None, max_length=2_000)

    def to_record(self) -> dict[str, Any]:
        """The raw record (schema.RawMovie) this description stands for: every raw column
        present, as in training; post-release fields stay None."""
        record: dict[str, Any] = dict.fromkeys(RAW_COLUMNS)
        record.update(
            id=0,
            title=self.title,
            original_title=self.title,
            overview=self.overview,
            tagline=self.tagline,
            release_date=self.release_date.isoformat(),
            runtime=self.runtime,
            budget=self.budget,
            original_language=self.original_language.lower(),
            genres=self.genres,
            keywords=self.keywords,
            production_companies=self.production_companies,
            production_countries=[c.upper() for c in self.production_countries],
            spoken_languages=[c.lower() for c in self.spoken_languages],
            homepage=self.homepage,
            status="Planned",
            source="api",
        )
        return record


class BatchIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"movies": [EXAMPLE_MOVIE]}]}
    )

    # fail_fast: the first bad movie ends validation, so a broken batch costs one movie's errors
    movies: list[MovieIn] = Field(min_length=1, max_length=MAX_BATCH, fail_fast=True)


class Sentiment(BaseModel):
    polarity: float = Field(description="-1 (negative) .. 1 (positive), TextBlob")
    subjectivity: float = Field(description="0 (factual) .. 1 (opinion), TextBlob")


class Prediction(BaseModel):
    predicted_rating: float = Field(ge=0, le=10, description="expected TMDB vote_average")
    model_version: str
    model_name: str
    sentiment: Sentiment


class BatchPrediction(BaseModel):
    model_version: str
    model_name: str
    predictions: list[Prediction]


class Status(BaseModel):
    status: str
    detail: str | None = None


class ModelStatus(BaseModel):
    """What is being served, from where and since when; plus how the poller is doing."""

    ready: bool
    version: str | None = None
    model_name: str | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    trained_at: str | None = None
    promoted_at: str | None = None
    loaded_at: str | None = None
    source_uri: str | None = None
    wandb_url: str | None = None
    evaluator: str | None = Field(
        None,
        description="what computes the trees: 'onnxruntime' (compiled and verified at load) "
        "or 'native' (the library's own predict, when the regressor could not be compiled "
        "faithfully)",
    )
    poll_seconds: float
    last_poll_at: str | None = None
    last_poll_result: str | None = None
    last_success_at: str | None = None
    reload_successes: int = 0
    reload_failures: int = 0
    poll_failures: int = 0
    last_error: str | None = None


class ModelsOverview(BaseModel):
    """The registry as the UI shows it: every version, which one serves, how it got there."""

    champion: str | None
    served_version: str | None
    versions: list[dict[str, Any]]
    history: list[dict[str, Any]]
    runs: list[dict[str, Any]] = []  # newest pipeline runs' decisions, promoted or not
    # records that do not parse (or are over the size limit), left out above: {key, reason}
    skipped: list[dict[str, str]] = []

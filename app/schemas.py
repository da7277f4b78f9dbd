"""Request and response bodies of the API.

The bounds here are the service's first line of defence: anything outside them is a 422 that
names the field, so the model only ever sees values it can turn into features.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

import pycountry
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from moviescore.ingest.raw_movie import RAW_COLUMNS
from moviescore.serving.vocabulary import MAX_NAME_CHARS, VocabularyField

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


Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)]
# fail_fast: a list of 150,000 bad items is one error, not 150,000 (the 422 stays small and quick)
NameList = Annotated[list[Name], Field(max_length=MAX_LIST_ITEMS, fail_fast=True)]
IsoCode = Annotated[str, Field(min_length=2, max_length=3, pattern=r"^[A-Za-z]{2,3}$")]
IsoCodeList = Annotated[list[IsoCode], Field(max_length=MAX_LIST_ITEMS, fail_fast=True)]

# TMDB's movie genre list (GET /genre/movie/list). Matched regardless of case, answered in TMDB's
# spelling; anything else ("Sci-Fi", IMDb's names) is a 422 that lists these.
TMDB_GENRES = (
    "Action", "Adventure", "Animation", "Comedy", "Crime", "Documentary", "Drama", "Family",
    "Fantasy", "History", "Horror", "Music", "Mystery", "Romance", "Science Fiction",
    "TV Movie", "Thriller", "War", "Western",
)  # fmt: skip
_GENRE_BY_KEY = {g.casefold(): g for g in TMDB_GENRES}
# ISO 639-1, plus the two codes TMDB uses beyond it: "cn" (Cantonese) and "xx" (no language).
LANGUAGES = frozenset(
    {lang.alpha_2 for lang in pycountry.languages if hasattr(lang, "alpha_2")} | {"cn", "xx"}
)

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
    runtime: float | None = Field(
        None, ge=0, le=1000, description="minutes, > 0; null when unknown (0 is refused)"
    )
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

    @field_validator("genres")
    @classmethod
    def _tmdb_genres(cls, genres: list[str]) -> list[str]:
        unknown = [g for g in genres if g.casefold() not in _GENRE_BY_KEY]
        if unknown:
            raise ValueError(
                f"unknown genre {', '.join(map(repr, unknown))}; "
                f"TMDB's genres are: {', '.join(TMDB_GENRES)}"
            )
        return [_GENRE_BY_KEY[g.casefold()] for g in genres]

    @field_validator("original_language")
    @classmethod
    def _iso_639_1(cls, code: str) -> str:
        if code.lower() not in LANGUAGES:
            raise ValueError(
                f"{code!r} is not an ISO 639-1 language code; valid codes are: "
                f"{', '.join(sorted(LANGUAGES))}"
            )
        return code

    @field_validator("runtime")
    @classmethod
    def _runtime_known(cls, runtime: float | None) -> float | None:
        if runtime == 0:
            raise ValueError("runtime 0 is not a length: use null for unknown")
        return runtime

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


class Interval(BaseModel):
    level: float = Field(description="the share of new releases it should cover, 0.8")
    low: float = Field(ge=0, le=10)
    high: float = Field(ge=0, le=10)


class Contribution(BaseModel):
    group: str = Field(description="a group of inputs a producer thinks in, e.g. 'budget'")
    value: float = Field(description="how much this group moved the rating from base_rating")
    detail: str = Field(description="the inputs behind it, e.g. 'budget $20M'")


class Explanation(BaseModel):
    base_rating: float = Field(description="the model's rating before any input is known")
    contributions: list[Contribution] = Field(
        description="base_rating + the sum of the values = the model's raw output (before the "
        "0-10 clamp), to 0.01; largest effect first"
    )


class Comparable(BaseModel):
    title: str
    release_year: int
    budget: float | None = Field(description="USD; null when unknown")
    rating: float = Field(description="its real TMDB vote_average")


class Prediction(BaseModel):
    predicted_rating: float = Field(ge=0, le=10, description="expected TMDB vote_average")
    model_version: str
    model_name: str
    sentiment: Sentiment
    interval: Interval = Field(
        description="calibrated (split-conformal) interval meant to hold the real rating of "
        "`level` of new releases"
    )
    warnings: list[str] = Field(
        description="plain sentences, one per way this movie lies outside what the model "
        "learned from or what it had to assume"
    )
    explanation: Explanation | None = Field(None, description="only with ?explain=true")
    comparables: list[Comparable] | None = Field(
        None,
        description="only with ?explain=true: the 5 most similar labelled films the model "
        "learned from (genres, year, budget, runtime, language)",
    )


class BatchPrediction(BaseModel):
    model_version: str
    model_name: str
    predictions: list[Prediction]


class VocabularyItem(BaseModel):
    name: str = Field(description="as the model learned it; send it back as is")
    films: int | None = Field(
        description="training films that name it; null for a model published before the "
        "counts were kept"
    )


class VocabularyOut(BaseModel):
    """Names the served model knows for one list field, filtered by prefix."""

    model_version: str
    field: VocabularyField
    prefix: str
    order: Literal["films", "name"] = Field(
        description="'films': most training films first; 'name': alphabetical (a model "
        "published before the counts were kept knows its names but not how common they are)"
    )
    total: int = Field(description="how many known names start with the prefix")
    items: list[VocabularyItem] = Field(description="at most `limit` of them")


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
    demo: bool = Field(
        False, description="learned from the offline sample (IMDb ratings), not from TMDB data"
    )
    data: dict[str, Any] | None = Field(
        None,
        description="what the model learned from: sources, label scale, rows and release-date "
        "range per split, training cutoff (ds), data fingerprint",
    )
    sequence: int | None = Field(None, description="the champion pointer's sequence number")
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
    # per run id, every attempt (re-runs, races lost) oldest first: when, action, reason
    attempts: dict[str, list[dict[str, Any]]] = {}

    # records that do not parse (or are over the size limit), left out above: {key, reason}
    skipped: list[dict[str, str]] = []


def _error(description: str, detail: Any) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"example": {"detail": detail}}},
    }


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    413: _error(
        "The body is larger than the API accepts", "request body larger than 2097152 bytes"
    ),
    422: _error(
        "The movie does not validate: each entry names the field and says why",
        [
            {
                "type": "value_error",
                "loc": ["body", "genres"],
                "msg": "Value error, unknown genre 'Sci-Fi'; TMDB's genres are: Action, "
                "Adventure, Animation, Comedy, Crime, Documentary, Drama, Family, Fantasy, "
                "History, Horror, Music, Mystery, Romance, Science Fiction, TV Movie, "
                "Thriller, War, Western",
                "input": ["Sci-Fi"],
            }
        ],
    ),
    503: _error(
        "No model is loaded yet (no champion in the registry, or it is unreachable)",
        "no model loaded yet: the registry has no champion or is unreachable",
    ),
}
# What the API answered for EXAMPLE_MOVIE with ?explain=true (LightGBM trained on the shared data).
EXAMPLE_PREDICTION: dict[str, Any] = {
    "predicted_rating": 6.26,
    "model_version": "20261130-120000-lightgbm-a1b2c3",
    "model_name": "lightgbm",
    "sentiment": {"polarity": 0.1, "subjectivity": 0.65},
    "interval": {"level": 0.8, "low": 5.4, "high": 7.12},
    "warnings": [
        "Release year 2027 is 16 years after the newest film the model learned from (2011): "
        "it cannot know how tastes moved since."
    ],
    "explanation": {
        "base_rating": 6.2446,
        "contributions": [
            {"group": "runtime", "value": 0.3357, "detail": "128 min"},
            {"group": "release date", "value": -0.1482, "detail": "14 May 2027, a Friday"},
            {"group": "budget", "value": -0.1282, "detail": "budget $95M"},
            {
                "group": "production companies",
                "value": -0.115,
                "detail": "1 company, 0 known to the model",
            },
            {"group": "genres", "value": 0.0988, "detail": "Science Fiction, Drama, Thriller"},
            {"group": "keywords", "value": -0.0313, "detail": "3 keywords, 3 known to the model"},
            {
                "group": "overview text and sentiment",
                "value": 0.0286,
                "detail": "29 words, polarity +0.10, subjectivity 0.65",
            },
            {
                "group": "language and countries",
                "value": -0.0155,
                "detail": "original language en; countries US",
            },
            {
                "group": "title, tagline and homepage",
                "value": -0.0136,
                "detail": "3-word title, a tagline, no homepage",
            },
        ],
    },
    "comparables": [
        {"title": "The Book of Eli", "release_year": 2010, "budget": 80e6, "rating": 6.6},
        {"title": "Shutter Island", "release_year": 2010, "budget": 80e6, "rating": 7.8},
        {"title": "Eat Pray Love", "release_year": 2010, "budget": 60e6, "rating": 5.8},
        {"title": "The Town", "release_year": 2010, "budget": 37e6, "rating": 7.0},
        {"title": "Knowing", "release_year": 2009, "budget": 50e6, "rating": 5.9},
    ],
}
_PLAIN = {k: v for k, v in EXAMPLE_PREDICTION.items() if k not in {"explanation", "comparables"}}


def _ok(description: str, example: Any) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"example": example}}}


PREDICT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: _ok("The rating, its interval and warnings (and the explanation, if asked)", _PLAIN)
    | {
        "content": {
            "application/json": {
                "examples": {
                    "plain": {"summary": "POST /predict", "value": _PLAIN},
                    "explained": {
                        "summary": "POST /predict?explain=true",
                        "value": EXAMPLE_PREDICTION,
                    },
                }
            }
        }
    },
    **ERROR_RESPONSES,
}
BATCH_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: _ok(
        "One prediction per movie, in the order sent",
        {
            "model_version": _PLAIN["model_version"],
            "model_name": _PLAIN["model_name"],
            "predictions": [_PLAIN],
        },
    ),
    **ERROR_RESPONSES,
}
# GET /model/vocabulary?field=keywords&prefix=space&limit=5 of a model whose features were
# fitted on every labelled film of the shared TMDB data.
EXAMPLE_VOCABULARY: dict[str, Any] = {
    "model_version": "20261130-120000-lightgbm-a1b2c3",
    "field": "keywords",
    "prefix": "space",
    "order": "films",
    "total": 22,
    "items": [
        {"name": "space marine", "films": 28},
        {"name": "space", "films": 22},
        {"name": "space travel", "films": 21},
        {"name": "space opera", "films": 20},
        {"name": "spaceship", "films": 16},
    ],
}
VOCABULARY_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: _ok(
        "The known names that start with the prefix, most training films first", EXAMPLE_VOCABULARY
    ),
    422: _error(
        "An unknown field, or a limit outside 1..200",
        [
            {
                "type": "literal_error",
                "loc": ["query", "field"],
                "msg": "Input should be 'keywords' or 'production_companies'",
            }
        ],
    ),
    503: ERROR_RESPONSES[503],
}

"""GET /model/vocabulary: the names the served model knows, in process and across a hot swap."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sklearn.pipeline import Pipeline

from app.main import create_app
from app.model_manager import ModelManager
from moviescore.config import Settings
from tests.helpers.live import fit_pipeline, manifest_for
from tests.helpers.movies import learnable_records

URL = "/model/vocabulary"


def counted(field: str, seed: int = 0) -> Counter[str]:
    """How many of the training films name each item: what the answer must rank by."""
    records, _ = learnable_records(seed=seed, named=True)
    return Counter(item for r in records for item in r[field])


def app_serving(settings: Settings, pipeline: Pipeline) -> TestClient:
    from moviescore.registry.store import ModelBundle

    bundle = ModelBundle(version="v-named", manifest=manifest_for(pipeline), pipeline=pipeline)
    return TestClient(create_app(settings, manager=ModelManager.static(bundle)))


@pytest.fixture(scope="module")
def named_pipeline() -> Pipeline:
    return fit_pipeline(named=True)


@pytest.fixture
def named(settings: Settings, named_pipeline: Pipeline) -> Iterator[TestClient]:
    with app_serving(settings, named_pipeline) as client:
        yield client


@pytest.mark.parametrize("field", ["keywords", "production_companies"])
def test_every_known_name_most_films_first(named: TestClient, field: str) -> None:
    answer = named.get(URL, params={"field": field, "limit": 200})
    assert answer.status_code == 200
    body = answer.json()
    expected = counted(field)
    assert body["model_version"] == "v-named" and body["field"] == field
    assert body["order"] == "films" and body["prefix"] == ""
    assert body["total"] == len(expected) == len(body["items"])
    assert {i["name"]: i["films"] for i in body["items"]} == dict(expected)
    films = [i["films"] for i in body["items"]]
    assert films == sorted(films, reverse=True)


def test_prefix_is_case_insensitive_and_limit_bounds_the_list(named: TestClient) -> None:
    space = named.get(URL, params={"field": "keywords", "prefix": "SPACE"}).json()
    assert [i["name"] for i in space["items"]] == ["space mission"]
    films = counted("keywords")
    h_names = sorted((k for k in films if k.startswith("h")), key=lambda k: (-films[k], k))
    first = named.get(URL, params={"field": "keywords", "prefix": "H", "limit": 1}).json()
    assert first["total"] == len(h_names) == 2  # haunted house (13 films), heist (9)
    assert [i["name"] for i in first["items"]] == h_names[:1] == ["haunted house"]
    companies = named.get(URL, params={"field": "production_companies", "prefix": "warner b"})
    assert [i["name"] for i in companies.json()["items"]] == ["Warner Bros."]
    none = named.get(URL, params={"field": "keywords", "prefix": "zzz"}).json()
    assert none["total"] == 0 and none["items"] == []
    default = named.get(URL, params={"field": "keywords"}).json()
    assert len(default["items"]) == min(50, default["total"])


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"field": "genres"}, "field"),
        ({}, "field"),
        ({"field": "keywords", "limit": 0}, "limit"),
        ({"field": "keywords", "limit": 201}, "limit"),
        ({"field": "keywords", "limit": "many"}, "limit"),
        ({"field": "keywords", "prefix": "x" * 201}, "prefix"),
    ],
)
def test_bad_query_is_a_bounded_422_naming_the_parameter(
    named: TestClient, params: dict[str, Any], where: str
) -> None:
    answer = named.get(URL, params=params)
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert [e["loc"] for e in detail] == [["query", where]]
    assert "x" * 201 not in answer.text and "input" not in detail[0]  # nothing echoed
    if params.get("field") == "genres":
        assert "'keywords' or 'production_companies'" in detail[0]["msg"]


def test_no_model_is_a_503(empty_client: TestClient) -> None:
    answer = empty_client.get(URL, params={"field": "keywords"})
    assert answer.status_code == 503
    assert answer.json()["detail"].startswith("no model loaded yet")


def test_a_model_pickled_before_counts_lists_its_names_alphabetically(
    settings: Settings, named_pipeline: Pipeline
) -> None:
    older = copy.deepcopy(named_pipeline)
    del older[0].item_counts_  # what a model fitted before the counts existed holds
    with app_serving(settings, older) as client:
        body = client.get(URL, params={"field": "keywords", "limit": 200}).json()
        rated = client.post("/predict", json={"title": "x", "original_language": "en",
                                              "release_date": "2027-01-01"})  # fmt: skip
    names = [i["name"] for i in body["items"]]
    assert body["order"] == "name"
    assert names == sorted(counted("keywords"), key=str.casefold)
    assert {i["films"] for i in body["items"]} == {None}
    assert rated.status_code == 200  # and it still serves


def test_a_model_without_names_has_an_empty_vocabulary(client: TestClient) -> None:
    body = client.get(URL, params={"field": "keywords"}).json()  # films with no keywords
    assert body["model_version"] == "v-test" and body["total"] == 0 and body["items"] == []


def test_openapi_documents_the_route(named: TestClient) -> None:
    operation = named.get("/openapi.json").json()["paths"][URL]["get"]
    assert operation["summary"].startswith("Keywords or production companies")
    example = operation["responses"]["200"]["content"]["application/json"]["example"]
    assert example["items"][0] == {"name": "space marine", "films": 28}
    assert {"422", "503"} <= set(operation["responses"])


@pytest.mark.integration
def test_the_vocabulary_follows_a_hot_swap(
    s3_settings: Settings, registry: Any, promote: Any
) -> None:
    v1 = promote(registry, seed=0, named=True)
    manager = ModelManager(registry)
    manager.poll_once()
    with TestClient(create_app(s3_settings, manager=manager)) as client:
        params = {"field": "keywords", "limit": 200}
        before = client.get(URL, params=params).json()
        v2 = promote(registry, seed=1, named=True)
        assert manager.poll_once() == "loaded"
        after = client.get(URL, params=params).json()
    assert (before["model_version"], after["model_version"]) == (v1, v2)
    assert {i["name"]: i["films"] for i in before["items"]} == dict(counted("keywords", 0))
    assert {i["name"]: i["films"] for i in after["items"]} == dict(counted("keywords", 1))
    assert counted("keywords", 0) != counted("keywords", 1)  # the swap changed what it knows

"""Hostile input against a live uvicorn serving a real model: schemathesis fuzzing of its own
/openapi.json, and the documented limits (body size, batch size, field bounds, long overviews)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from reliability.probes import ServedAPI
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

pytestmark = pytest.mark.integration

MAX_EXAMPLES = 100  # per operation; derandomized, so bounded and repeatable
MOVIE = {"title": "Limits", "original_language": "en", "release_date": "2027-01-01",
         "genres": ["Drama"], "runtime": 100}  # fmt: skip


@pytest.fixture(scope="module")
def api_url(served_api: ServedAPI) -> str:
    return served_api.url


@pytest.mark.timeout(120)
def test_fuzz_no_5xx_and_every_response_matches_its_schema(api_url: str) -> None:
    """Every operation of the live /openapi.json, valid and invalid bodies (hypothesis)."""
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/predict", "/predict/batch", "/model"}
    calls = 0

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,  # the same cases every run: a failure reproduces
            database=None,
        )
        def fuzz(case: Any) -> None:
            nonlocal calls
            calls += 1
            case.call_and_validate(
                checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
                timeout=10,
            )

        fuzz()
    assert calls >= len(operations) * 10  # it really ran cases, not just collected them


# Raw JSON text no encoder would write: bare NaN/Infinity, lone surrogates, numbers beyond float
# or int, deep nesting, unknown keys; spliced into an otherwise valid movie.
HOSTILE = ["NaN", "-Infinity", "Infinity", "[NaN]", '"\\ud800"', '"\\udfff x"', "1e999", "-1e999",
           "9" * 5000, "[" * 3000 + "]" * 3000, '{"a": ' * 3000 + "1" + "}" * 3000, "nul", "'x'",
           "0x10", "1.", ".5", "+1", "01", '"\\x41"', "[1,]", "{,}"]  # fmt: skip
FIELDS = ["title", "runtime", "budget", "genres", "release_date", "overview", "unknown\\ud800"]


@pytest.mark.timeout(120)
def test_fuzz_raw_bodies_are_4xx_small_and_never_echoed(api_url: str) -> None:
    """Bodies that are not JSON-encodable (hypothesis splices hostile tokens into a movie):
    every one is a 4xx naming the body or a field, under 8 KB, and the connection survives."""
    from hypothesis import strategies as st

    valid = json.dumps(MOVIE)[1:-1]
    bodies = st.builds(
        lambda field, token, prefix, wrap: (
            (prefix + "{" + valid + f', "{field}": {token}' + "}").encode("utf-8", "surrogatepass")
            if not wrap
            else ('{"movies": [{' + valid + f', "{field}": {token}' + "}]}").encode()
        ),
        st.sampled_from(FIELDS),
        st.sampled_from(HOSTILE) | st.text(max_size=20).map(json.dumps).map(lambda t: t[:-1]),
        st.sampled_from(["", " ", "\ufeff", "\x00"]),
        st.booleans(),
    )
    seen: list[int] = []
    with httpx.Client(timeout=10) as client:

        @given(body=bodies)
        @settings(max_examples=300, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def fuzz(body: bytes) -> None:
            path = "/predict/batch" if body.startswith(b'{"movies"') else "/predict"
            answer = client.post(api_url + path, content=body,
                                 headers={"content-type": "application/json"})  # fmt: skip
            seen.append(answer.status_code)
            assert 400 <= answer.status_code < 500, (body[:200], answer.text[:500])
            assert len(answer.content) < 8_000
            assert answer.json()["detail"][0]["loc"][0] == "body"

        fuzz()
        assert client.get(api_url + "/health").status_code == 200  # same pooled connection
    assert len(seen) >= 100


def post(url: str, body: Any, **kw: Any) -> httpx.Response:
    return httpx.post(url, json=body, timeout=10, **kw)


def test_body_over_the_limit_is_413(api_url: str) -> None:
    big = {"movies": [MOVIE | {"overview": "x" * 9_000}] * 300}  # ~2.7 MB > 2 MiB
    answer = post(f"{api_url}/predict/batch", big)
    assert answer.status_code == 413 and "larger than" in answer.json()["detail"]


def test_batch_over_1000_is_422_naming_the_field(api_url: str) -> None:
    answer = post(f"{api_url}/predict/batch", {"movies": [MOVIE] * 1001})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "movies"]
    ok = post(f"{api_url}/predict/batch", {"movies": [MOVIE] * 1000})
    assert ok.status_code == 200 and len(ok.json()["predictions"]) == 1000


@pytest.mark.parametrize(
    ("field", "value"),
    [("runtime", -1), ("runtime", 1e9), ("budget", -5), ("budget", 1e12),
     ("release_date", "1800-01-01"), ("release_date", "2999-01-01"), ("release_date", "soon"),
     ("original_language", "english!"), ("runtime", "NaN"), ("title", " \t "),
     ("release_date", 0), ("release_date", "1700000000")],
)  # fmt: skip
def test_out_of_bounds_values_are_422_naming_the_field(
    api_url: str, field: str, value: Any
) -> None:
    answer = post(f"{api_url}/predict", MOVIE | {field: value})
    assert answer.status_code == 422, answer.text
    assert [e["loc"] for e in answer.json()["detail"]] == [["body", field]]


def test_overview_at_the_limit_is_answered_quickly_and_over_it_is_422(api_url: str) -> None:
    words = "a brilliant, moving and honest story about grief and hope " * 200
    at_limit = words[:10_000]
    began = time.monotonic()
    answer = post(f"{api_url}/predict", MOVIE | {"overview": at_limit})
    elapsed = time.monotonic() - began
    assert answer.status_code == 200 and elapsed < 2.0, (answer.status_code, elapsed)
    over = post(f"{api_url}/predict", MOVIE | {"overview": at_limit + "x"})
    assert over.status_code == 422 and over.json()["detail"][0]["loc"] == ["body", "overview"]

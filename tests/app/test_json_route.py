"""The direct path of `StrictJSONRoute` answers exactly as FastAPI's own handler does."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from app.json_body import StrictJSONRoute, validation_error


class Item(BaseModel):
    name: str = Field(min_length=1)
    size: float = Field(ge=0)


class FastAPIHandlerOnly(StrictJSONRoute):
    def _direct_endpoint(self) -> None:
        return None


def _client(route_class: type[StrictJSONRoute]) -> TestClient:
    router = APIRouter(route_class=route_class)

    @router.post("/async")
    async def answer_async(item: Item, request: Request) -> Response:
        return Response(f"{item.name}:{item.size}:{request.url.path}", media_type="text/plain")

    @router.post("/sync")
    def answer_sync(item: Item, request: Request) -> Response:
        return Response(f"{item.name}:{item.size}:{request.url.path}", media_type="text/plain")

    app = FastAPI()
    app.add_exception_handler(RequestValidationError, validation_error)
    app.include_router(router)
    return TestClient(app)


JSON = {"content-type": "application/json"}
REQUESTS: dict[str, dict[str, Any]] = {
    "valid": {"content": b'{"name": "a", "size": 2}', "headers": JSON},
    "charset and +json": {
        "content": b'{"name": "a", "size": 2}',
        "headers": {"content-type": "application/vnd.item+json; charset=utf-8"},
    },
    "invalid value": {"content": b'{"name": "", "size": -1}', "headers": JSON},
    "missing field": {"content": b'{"name": "a"}', "headers": JSON},
    "extra nesting": {"content": b'{"name": {"a": 1}, "size": 2}', "headers": JSON},
    "broken JSON": {"content": b'{"name": ', "headers": JSON},
    "NaN": {"content": b'{"name": "a", "size": NaN}', "headers": JSON},
    "a list": {"content": b"[1, 2]", "headers": JSON},
    "empty body": {"content": b"", "headers": JSON},
    "no content type": {"content": b'{"name": "a", "size": 2}', "headers": {}},
    "text content type": {
        "content": b'{"name": "a", "size": 2}',
        "headers": {"content-type": "text/plain"},
    },
}


@pytest.mark.parametrize("path", ["/async", "/sync"])
@pytest.mark.parametrize("case", REQUESTS)
def test_direct_path_answers_as_fastapi_does(path: str, case: str) -> None:
    direct = _client(StrictJSONRoute).post(path, **REQUESTS[case])
    fastapi = _client(FastAPIHandlerOnly).post(path, **REQUESTS[case])
    assert (direct.status_code, direct.text) == (fastapi.status_code, fastapi.text)
    if case in ("valid", "charset and +json"):
        assert direct.text == f"a:2.0:{path}"
    else:
        assert direct.status_code == 422, direct.text


def test_only_body_and_request_endpoints_take_the_direct_path() -> None:
    router = APIRouter(route_class=StrictJSONRoute)

    @router.post("/plain")
    async def plain(item: Item, request: Request) -> Response:
        return Response()

    @router.post("/with-query")
    async def with_query(item: Item, request: Request, q: int = 0) -> Response:
        return Response()

    @router.post("/returns-model")
    async def returns_model(item: Item, request: Request) -> Item:
        return item

    routes = {r.path: r for r in router.routes if isinstance(r, StrictJSONRoute)}
    assert routes["/plain"]._direct_endpoint() is not None
    assert routes["/with-query"]._direct_endpoint() is None
    assert routes["/returns-model"]._direct_endpoint() is None

"""What a JSON request body may be, and what a refused one is told.

FastAPI parses bodies with `json.loads`, which accepts `NaN`, `Infinity` and lone UTF-16
surrogates — values no JSON encoder can write back — and its default 422 handler echoes every
offending input. Together they turned such bodies into 500s (the echo could not be encoded) and
one body with 150,000 unknown keys into a 15 MB answer. Here the body is parsed strictly (RFC
8259: UTF-8, no NaN/Infinity, no lone surrogates; nesting bounded by the interpreter's recursion
limit, digits by its int limit, keys per object by MAX_KEYS), lists are validated fail-fast
(schemas) and every validation error is reported by location and a short
message only: at most MAX_ERRORS of them, no input echoed.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, NoReturn, cast

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_KEYS = 64  # per object; the widest the API accepts (a movie) has 13 fields
MAX_ERRORS = 20  # a batch of 1000 broken movies is told about its first 20 problems
MAX_LOC_TEXT = 64  # an unknown key is named, cut to this length
MAX_MSG = 1_000  # room for our own lists of valid names (ISO 639-1: ~800 characters)


class _NotJSON(ValueError):
    pass


def _reject_constant(name: str) -> NoReturn:
    raise _NotJSON(f"{name} is not a JSON number (RFC 8259 has no NaN or Infinity)")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Each unknown key is one validation error: bound them before pydantic lists them all.
    if len(pairs) > MAX_KEYS:
        raise _NotJSON(f"an object has {len(pairs)} keys; at most {MAX_KEYS} are accepted")
    return dict(pairs)


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # also a valid pair (emoji): the walk decides
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, object_pairs_hook=_object)


def parse_json(body: bytes) -> Any:
    """The body's value; json.JSONDecodeError (FastAPI's "json_invalid" 422) for anything that is
    not strict JSON, including input that only a recursion or digit limit stops."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise json.JSONDecodeError("the body is not UTF-8", "", exc.start) from None
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise json.JSONDecodeError(exc.msg, "", exc.pos) from None  # never keep the text
    except RecursionError:
        raise json.JSONDecodeError("the body is nested too deeply", "", 0) from None
    except _NotJSON as exc:
        raise json.JSONDecodeError(str(exc), "", 0) from None
    except ValueError as exc:  # an integer longer than int's digit limit; the advice is for us
        raise json.JSONDecodeError(str(exc).split(";")[0], "", 0) from None
    escape = _SURROGATE_ESCAPE.search(text)  # only an escape can make a surrogate
    if escape and _has_lone_surrogate(value):
        raise json.JSONDecodeError("a string holds a lone UTF-16 surrogate", "", escape.start())
    return value


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]  # iterative: the value may be as deep as the parser allowed
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json(await self.body())
        return self._json


def _declares_json(scope: Scope) -> bool:
    """Content-Type application/json (any parameters) or application/*+json."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or (
                media.startswith(b"application/") and media.endswith(b"+json")
            )
    return False


class StrictJSONRoute(APIRoute):
    """An APIRoute whose JSON body goes through `parse_json` (FastAPI's documented hook).

    An endpoint `f(<body model>, request: Request) -> Response` also gets a direct path: a
    JSON body that parses and validates goes straight to it, and its response straight to the
    client. FastAPI's general request handler (dependency solving, content-type parsing, exit
    stacks, a second exception wrapper) cost more per request than scoring a movie does
    (docs/BENCHMARKS.md). Anything else (no body, another content type, bad JSON, a failed
    validation) takes FastAPI's own handler, so every refusal is exactly FastAPI's; an error
    the endpoint raises reaches the app's exception handlers, the same ones FastAPI's path uses.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        direct = self._direct_endpoint()
        if direct is not None:
            self.app = _direct_app(direct, fallback=self.app)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict_handler

    def _direct_endpoint(self) -> _DirectEndpoint | None:
        dependant = self.dependant
        if (
            len(dependant.body_params) != 1
            or dependant.path_params
            or dependant.query_params
            or dependant.header_params
            or dependant.cookie_params
            or dependant.dependencies
            or dependant.request_param_name is None
            or inspect.signature(self.endpoint).return_annotation not in (Response, "Response")
        ):
            return None
        model = dependant.body_params[0].field_info.annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        return _DirectEndpoint(
            self.endpoint, model, dependant.body_params[0].name, dependant.request_param_name
        )


@dataclass
class _DirectEndpoint:
    """An endpoint called with its validated body and the request, by parameter name."""

    endpoint: Callable[..., Any]
    model: type[BaseModel]
    body_name: str
    request_name: str
    is_async: bool = field(init=False)

    def __post_init__(self) -> None:
        self.is_async = inspect.iscoroutinefunction(self.endpoint)

    async def __call__(self, body: BaseModel, request: Request) -> Response:
        kwargs = {self.body_name: body, self.request_name: request}
        if self.is_async:
            return cast(Response, await self.endpoint(**kwargs))
        return cast(Response, await run_in_threadpool(self.endpoint, **kwargs))


def _direct_app(direct: _DirectEndpoint, fallback: ASGIApp) -> ASGIApp:
    """The route's ASGI app: a valid JSON body to `direct`, any other request to `fallback`
    (FastAPI's), which is handed the body already read."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if _declares_json(scope):
            request = StrictJSONRequest(scope, receive, send)
            try:
                body = direct.model.model_validate(await request.json())
            except (json.JSONDecodeError, ValidationError):
                receive = _replay(await request.body(), receive)
            else:
                response = await direct(body, request)
                await response(scope, receive, send)
                return
        await fallback(scope, receive, send)

    return app


def _replay(body: bytes, receive: Receive) -> Receive:
    """`receive` that first gives back a body already read in full."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def _short(part: Any) -> str | int:
    if isinstance(part, int) and not isinstance(part, bool):
        return part
    text = str(part)
    return text if len(text) <= MAX_LOC_TEXT else text[:MAX_LOC_TEXT] + "…"


def _error(error: dict[str, Any]) -> dict[str, Any]:
    msg = str(error.get("msg", "invalid"))
    if error.get("type") == "json_invalid" and (ctx := error.get("ctx")):
        msg = f"{msg}: {ctx.get('error')}"  # e.g. "JSON decode error: Expecting value"
    return {
        "loc": [_short(part) for part in error.get("loc", ())],
        "msg": msg[:MAX_MSG],
        "type": str(error.get("type", "value_error")),
    }


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 with where and what, never the input: bounded whatever the body was."""
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    content: dict[str, Any] = {"detail": [_error(e) for e in errors[:MAX_ERRORS]]}
    if len(errors) > MAX_ERRORS:
        content["more_errors"] = len(errors) - MAX_ERRORS
    return JSONResponse(content, 422)

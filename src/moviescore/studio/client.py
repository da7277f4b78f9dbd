"""The studio's HTTP client: one call to the API, and every failure said in plain words."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

TIMEOUT_SECONDS = 10.0
STATUS_TIMEOUT_SECONDS = 2.0  # the sidebar's health check must not hold up the page
VOCABULARY_LIMIT = 200  # the most /model/vocabulary lists: the most used names; others are typed


@dataclass
class ApiError(Exception):
    """Something the user should read; `fields` maps a form field to what is wrong with it."""

    message: str
    fields: dict[str, list[str]] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class ApiStatus:
    up: bool
    ready: bool
    detail: str
    version: str | None = None  # the served model's, when ready


def field_errors(detail: Any) -> dict[str, list[str]]:
    """FastAPI's 422 `detail` as {form field: messages}. `loc` is ("body", field, index…) for
    /predict and ("body", "movies", row, field, …) for /predict/batch; both map to the field."""
    out: dict[str, list[str]] = {}
    if not isinstance(detail, list):
        return out
    for err in detail:
        if not isinstance(err, dict):
            continue
        loc = [p for p in err.get("loc", ()) if p not in ("body", "query")]
        if loc[:1] == ["movies"]:
            loc = loc[2:]  # movies.<row>.<field>
        name = next((str(p) for p in loc if isinstance(p, str)), "request")
        message = str(err.get("msg", "invalid value"))
        index = next((p for p in loc if isinstance(p, int)), None)
        if index is not None and isinstance(err.get("input"), str):
            shown = err["input"] if len(err["input"]) <= 40 else err["input"][:37] + "…"
            message = f"{shown!r}: {message}"  # which of several names is wrong
        out.setdefault(name, []).append(message)
    return out


def describe_response(response: httpx.Response) -> str:
    """A sentence for an error answer, whatever its body is (JSON detail, HTML, nothing)."""
    code = response.status_code
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, list):
        errors = field_errors(detail)
        listed = "; ".join(f"{name}: {', '.join(msgs)}" for name, msgs in errors.items())
        return f"Some fields are not valid: {listed}"
    if code == 413:
        return "The request is too large for the prediction service."
    if code == 503:
        return f"The prediction service cannot answer yet: {detail or 'no model is loaded'}."
    if code >= 500:
        return f"The prediction service failed (HTTP {code}){f': {detail}' if detail else ''}."
    return f"The prediction service refused the request (HTTP {code}): {detail or 'no reason'}."


def describe_transport(exc: Exception, base_url: str, timeout: float) -> str:
    """`[Errno 111] Connection refused` and friends, as a user would put them."""
    if isinstance(exc, httpx.TimeoutException):
        return f"The prediction service at {base_url} did not answer within {timeout:g} seconds."
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return f"The prediction service address {base_url!r} is not a valid http(s) URL."
    return (
        f"The prediction service at {base_url} is not reachable: "
        "is it running, and is API_URL set to its address?"
    )


def call_api(
    method: str,
    path: str,
    *,
    base_url: str,
    json: Any = None,
    params: dict[str, Any] | None = None,
    timeout: float = TIMEOUT_SECONDS,
) -> Any:
    """The JSON answer, or `ApiError` with a sentence (and field errors for a 422)."""
    try:
        response = httpx.request(
            method, f"{base_url}{path}", json=json, params=params, timeout=timeout
        )
    except (httpx.TransportError, httpx.InvalidURL) as exc:
        raise ApiError(describe_transport(exc, base_url, timeout)) from exc
    if response.status_code >= 400:
        detail = _json_or_none(response)
        fields = field_errors(detail.get("detail")) if isinstance(detail, dict) else {}
        raise ApiError(describe_response(response), fields)
    try:
        return response.json()
    except ValueError as exc:
        raise ApiError(
            f"The prediction service at {base_url} answered something not JSON."
        ) from exc


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def api_status(base_url: str) -> ApiStatus:
    """/health (the process answers), /ready (a model is loaded) and /model (which), for the
    sidebar and for what is cached per model version."""
    try:
        call_api("GET", "/health", base_url=base_url, timeout=STATUS_TIMEOUT_SECONDS)
    except ApiError as exc:
        return ApiStatus(up=False, ready=False, detail=str(exc))
    try:
        ready = call_api("GET", "/ready", base_url=base_url, timeout=STATUS_TIMEOUT_SECONDS)
        model = call_api("GET", "/model", base_url=base_url, timeout=STATUS_TIMEOUT_SECONDS)
    except ApiError as exc:
        return ApiStatus(up=True, ready=False, detail=str(exc))
    version = model.get("version") if isinstance(model, dict) else None
    detail = str(ready.get("detail") or "ready")
    return ApiStatus(up=True, ready=True, detail=detail, version=version)


def vocabulary(base_url: str, field: str) -> list[str]:
    """The served model's most used names of `field` ('keywords', 'production_companies'),
    most training films first; `ApiError` when the API cannot say (down, no model, older)."""
    answer = call_api(
        "GET",
        "/model/vocabulary",
        base_url=base_url,
        params={"field": field, "limit": VOCABULARY_LIMIT},
    )
    items = answer.get("items") if isinstance(answer, dict) else None
    if not isinstance(items, list):
        raise ApiError(f"The prediction service at {base_url} answered no list of {field}.")
    return [str(i["name"]) for i in items if isinstance(i, dict) and i.get("name")]


def explains(openapi: Any) -> bool:
    """Whether the API's OpenAPI schema offers `POST /predict?explain=` (newer APIs do)."""
    try:
        parameters = openapi["paths"]["/predict"]["post"].get("parameters", [])
    except (KeyError, TypeError, AttributeError):
        return False
    return any(isinstance(p, dict) and p.get("name") == "explain" for p in parameters)

"""One TMDB request, done right: auth, a shared rate limit, retries with backoff, no leaked secrets.

`TMDBTransport.get` is the only way `tmdb.py` talks to TMDB. 429 (honouring Retry-After), 5xx,
timeouts, dropped connections and malformed bodies are retried by tenacity with exponential
backoff; 401 and other 4xx are not. Whatever still fails surfaces as a `TMDBError` whose message
names the cause and never contains the key or token.
"""

from __future__ import annotations

import email.utils
import logging
import re
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from moviescore.config import Settings

log = logging.getLogger("moviescore.ingest.tmdb")

MAX_RETRY_AFTER = 120.0  # never sleep longer than this on a server's say-so
MAX_BACKOFF = 60.0
_API_KEY_IN_URL = re.compile(r"(api_key=)[^&\s'\"]+")

Validator = Callable[[Any], str | None]  # returns what is wrong with a parsed body, or None


class TMDBError(RuntimeError):
    """A TMDB request failed for good (after retries, or with an error retrying cannot fix)."""


class TMDBAuthError(TMDBError):
    """TMDB rejected the credentials (401), or none are configured."""


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


_TRANSIENT = (_Retryable, httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


class _RedactApiKey(logging.Filter):
    """httpx logs every request URL at INFO, and the v3 key travels in that URL."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken log call is logging's problem to report, not ours
            return True
        record.msg, record.args = _API_KEY_IN_URL.sub(r"\1***", message), None
        return True


class RateLimiter:
    """Spaces request starts at least 1/rate apart, across threads; a 429 pushes everyone back."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self._interval
        time.sleep(max(0.0, slot - now))

    def defer(self, seconds: float) -> None:
        with self._lock:
            self._next = max(self._next, time.monotonic() + seconds)


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (when - datetime.now(when.tzinfo)).total_seconds())


class TMDBTransport:
    def __init__(
        self, settings: Settings, *, client: httpx.Client | None = None, backoff_base: float = 1.0
    ) -> None:
        token, key = settings.tmdb_read_access_token, settings.tmdb_api_key
        self._headers: dict[str, str] = {"Accept": "application/json"}
        self._auth_params: dict[str, str] = {}
        if token and token.get_secret_value():  # a v4 token works for every v3 endpoint
            self._headers["Authorization"] = f"Bearer {token.get_secret_value()}"
        elif key and key.get_secret_value():
            self._auth_params["api_key"] = key.get_secret_value()
        else:
            raise TMDBAuthError(
                "no TMDB credentials: set TMDB_API_KEY (v3) or TMDB_READ_ACCESS_TOKEN (v4)"
            )
        self._secrets = [s.get_secret_value() for s in (token, key) if s and s.get_secret_value()]
        self.base_url = settings.tmdb_base_url.rstrip("/")
        self._timeout = httpx.Timeout(settings.tmdb_timeout_seconds)
        self.attempts = settings.tmdb_max_retries + 1
        self._limiter = RateLimiter(settings.tmdb_requests_per_second)
        self._backoff = wait_exponential_jitter(
            multiplier=backoff_base, max=MAX_BACKOFF, jitter=backoff_base
        )
        self._retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=self._wait,
            retry=retry_if_exception_type(_TRANSIENT),
            before_sleep=self._log_retry,
            reraise=True,
        )
        self._owns_http = client is None
        self._http = client if client is not None else httpx.Client()
        httpx_log = logging.getLogger("httpx")
        if not any(isinstance(f, _RedactApiKey) for f in httpx_log.filters):
            httpx_log.addFilter(_RedactApiKey())

    def close(self) -> None:
        if self._owns_http:  # an injected client belongs to the caller
            self._http.close()

    def get(self, path: str, params: dict[str, Any], problem: Validator) -> Any:
        """Rate-limited, retried GET: the parsed JSON, or None on 404. Raises TMDBError."""
        try:
            return self._retrying.copy()(self._attempt, path, params, problem)
        except _Retryable as exc:
            raise TMDBError(f"GET {path} failed after {self.attempts} attempts: {exc}") from None
        except httpx.HTTPError as exc:
            reason = f"{type(exc).__name__}: {self.mask(str(exc))}"
            raise TMDBError(f"GET {path} failed after {self.attempts} attempts: {reason}") from None

    def mask(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return _API_KEY_IN_URL.sub(r"\1***", text)

    def _attempt(self, path: str, params: dict[str, Any], problem: Validator) -> Any:
        self._limiter.wait()
        response = self._http.get(
            self.base_url + path,
            params={**params, **self._auth_params},
            headers=self._headers,
            timeout=self._timeout,
        )
        status = response.status_code
        if status == 401:
            raise TMDBAuthError(
                f"TMDB rejected the credentials (HTTP 401: {self.mask(response.text[:200])}); "
                "check TMDB_API_KEY / TMDB_READ_ACCESS_TOKEN"
            )
        if status == 404:
            return None
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise _Retryable(f"HTTP {status}", retry_after)
        if status >= 400:
            raise TMDBError(f"GET {path}: HTTP {status}: {self.mask(response.text[:200])}")
        try:
            data = response.json()
        except ValueError as exc:
            raise _Retryable(f"invalid JSON ({exc})") from None
        if (why := problem(data)) is not None:
            raise _Retryable(f"malformed response: {why}")
        return data

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            delay = min(exc.retry_after, MAX_RETRY_AFTER)
            self._limiter.defer(delay)  # the other workers hold off too
            return delay
        return float(self._backoff(state))

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        path = state.args[0] if state.args else "?"
        pause = state.next_action.sleep if state.next_action else 0.0
        log.info(
            "TMDB GET %s attempt %s failed (%s: %s); retrying in %.2fs",
            path,
            state.attempt_number,
            type(exc).__name__,
            self.mask(str(exc)),
            pause,
        )

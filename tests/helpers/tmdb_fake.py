"""A local fake of the TMDB v3 API for tests: real HTTP on 127.0.0.1, with scriptable faults.

    movies = make_movies(60, date(2024, 1, 1), days=10)
    with FakeTMDB(movies, api_key="k") as fake:            # free port, stopped on exit
        fake.inject("/movie/7", Fault.error(500))          # next request to /movie/7 fails once
        fake.inject("/discover/movie", Fault.bad_json(), where={"page": "2"}, repeat=True)
        settings = settings.model_copy(update={"tmdb_base_url": fake.base_url, ...})
        ...
        fake.requests                                      # every request seen, in order

Serves `/3/discover/movie` (filtered by primary_release_date.gte/.lte, ordered by date then id,
20 per page, capped at page 500 like TMDB) and `/3/movie/{id}` (keywords appended when asked).
Auth: `api_key` query param or `Authorization: Bearer <token>`; anything else gets TMDB's 401.
`total_pages_hook(start, end, real) -> reported` lets a test make windows look bigger than they are.
"""

from __future__ import annotations

import json
import math
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

PAGE_SIZE = 20
MAX_PAGE = 500
PREFIX = "/3"
NOT_FOUND = {
    "success": False,
    "status_code": 34,
    "status_message": "The resource you requested could not be found.",
}
UNAUTHORIZED = {
    "success": False,
    "status_code": 7,
    "status_message": "Invalid API key: You must be granted a valid key.",
}


def make_movie(movie_id: int, release: date, **extra: Any) -> dict[str, Any]:
    """A `/movie/{id}` body shaped like TMDB's (keywords and credits are appended by the server
    on request)."""
    movie: dict[str, Any] = {
        "id": movie_id,
        "title": f"Movie {movie_id}",
        "original_title": f"Movie {movie_id}",
        "overview": f"A film numbered {movie_id}.",
        "release_date": release.isoformat(),
        "original_language": "en",
        "runtime": 90 + movie_id % 60,
        "budget": 1_000_000 * (movie_id % 7),
        "genres": [{"id": 18, "name": "Drama"}],
        "production_companies": [{"id": 1, "name": "Fake Studio", "origin_country": "US"}],
        "production_countries": [{"iso_3166_1": "US", "name": "United States of America"}],
        "spoken_languages": [{"iso_639_1": "en", "name": "English", "english_name": "English"}],
        "status": "Released",
        "vote_average": round(5 + (movie_id % 40) / 10, 1),
        "vote_count": 10 + movie_id,
        "popularity": 1.5,
        "revenue": 0,
        "keywords": {"keywords": [{"id": 1, "name": "fake"}]},
        "credits": {
            "cast": [
                {"id": 10 + k, "name": f"Actor {movie_id % 5 + k}", "order": k} for k in range(5)
            ],
            "crew": [
                {"id": 1, "name": f"Director {movie_id % 3}", "job": "Director"},
                {"id": 2, "name": "A Writer", "job": "Screenplay", "department": "Writing"},
                {"id": 3, "name": "An Editor", "job": "Editor", "department": "Editing"},
            ],
        },
    }
    movie.update(extra)
    return movie


def make_movies(n: int, start: date, days: int, first_id: int = 1) -> list[dict[str, Any]]:
    """n movies spread round-robin over `days` consecutive release dates."""
    return [make_movie(first_id + i, start + timedelta(days=i % days)) for i in range(n)]


def learnable_snapshot(path: Any, n: int = 150) -> Any:
    """A snapshot file (JSON Lines of `/movie/{id}` bodies, releases over 60 days from 2024-01-01)
    whose rating follows the runtime: a model beats the mean-rating baseline, so a pipeline run
    on it ends with a champion. Returns `path` (a pathlib.Path)."""
    movies = make_movies(n, date(2024, 1, 1), days=60)
    for movie in movies:
        movie["vote_average"] = round(2 + movie["runtime"] / 25, 1)
    path.write_text("\n".join(json.dumps(m) for m in movies))
    return path


@dataclass(frozen=True)
class Fault:
    """One scripted answer. status None = the normal answer (after `delay`)."""

    status: int | None = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    reset: bool = False  # close the connection with a TCP RST, no response at all

    @classmethod
    def error(cls, status: int, retry_after: str | None = None) -> Fault:
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        body = json.dumps({"success": False, "status_message": f"fake {status}"}).encode()
        return cls(status=status, body=body, headers=headers)

    @classmethod
    def rate_limited(cls, retry_after: str = "1") -> Fault:
        return cls.error(429, retry_after)

    @classmethod
    def hang(cls, seconds: float) -> Fault:
        return cls(delay=seconds)

    @classmethod
    def bad_json(cls) -> Fault:
        return cls(status=200, body=b'{"page": 1, "results": [{"id": 1')

    @classmethod
    def json(cls, obj: Any) -> Fault:
        return cls(status=200, body=json.dumps(obj).encode())

    @classmethod
    def connection_reset(cls) -> Fault:
        return cls(reset=True)


@dataclass
class _Rule:
    path: str
    where: dict[str, str]
    faults: deque[Fault]
    repeat: bool

    def matches(self, path: str, params: dict[str, str]) -> bool:
        wanted = all(params.get(k) == v for k, v in self.where.items())
        return path == self.path and wanted and bool(self.faults)

    def take(self) -> Fault:
        return self.faults[0] if self.repeat else self.faults.popleft()


@dataclass(frozen=True)
class Recorded:
    t: float  # time.monotonic() when the request arrived
    path: str  # without the /3 prefix
    params: dict[str, str]
    headers: dict[str, str]  # lower-cased names


class FakeTMDB:
    def __init__(
        self,
        movies: list[dict[str, Any]],
        *,
        api_key: str | None = "test-api-key",
        token: str | None = None,
        vanished: set[int] | None = None,
        total_pages_hook: Callable[[date, date, int], int] | None = None,
    ) -> None:
        self.movies = {m["id"]: m for m in movies}
        self.api_key, self.token = api_key, token
        self.vanished = set(vanished or ())  # listed by discover, 404 on details
        self.total_pages_hook = total_pages_hook
        self.requests: list[Recorded] = []
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- scripting ---

    def inject(
        self, path: str, *faults: Fault, where: dict[str, str] | None = None, repeat: bool = False
    ) -> None:
        """Answer the next requests to `path` (e.g. "/movie/7") whose query contains `where`
        with `faults`, one each, then normally again; `repeat=True` keeps the first forever."""
        with self._lock:
            self._rules.append(_Rule(path, dict(where or {}), deque(faults), repeat))

    def clear_faults(self) -> None:
        with self._lock:
            self._rules.clear()

    def hits(self, path: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    # --- lifecycle ---

    @property
    def base_url(self) -> str:
        assert self._server is not None, "FakeTMDB not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}{PREFIX}"

    def settings_for(self, settings: Any, **update: Any) -> Any:
        """`settings` (a moviescore Settings) pointed at this fake, fast enough for tests."""
        from pydantic import SecretStr

        values: dict[str, Any] = {
            "tmdb_api_key": SecretStr(self.api_key) if self.api_key else None,
            "tmdb_base_url": self.base_url,
            "tmdb_requests_per_second": 1000.0,
            "tmdb_timeout_seconds": 2.0,
        }
        return settings.model_copy(update=values | update)

    def start(self) -> FakeTMDB:
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self) -> FakeTMDB:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- behaviour ---

    def _next_fault(self, path: str, params: dict[str, str]) -> Fault | None:
        with self._lock:
            for rule in self._rules:
                if rule.matches(path, params):
                    return rule.take()
        return None

    def _authorized(self, params: dict[str, str], headers: dict[str, str]) -> bool:
        key_ok = self.api_key is not None and params.get("api_key") == self.api_key
        bearer = headers.get("authorization")
        token_ok = self.token is not None and bearer == f"Bearer {self.token}"
        return key_ok or token_ok

    def answer(self, path: str, params: dict[str, str]) -> tuple[int, Any]:
        if path == "/discover/movie":
            return self._discover(params)
        if path.startswith("/movie/") and path[7:].isdigit():
            movie = self.movies.get(int(path[7:]))
            if movie is None or movie["id"] in self.vanished:
                return 404, NOT_FOUND
            body = dict(movie)
            appended = params.get("append_to_response", "").split(",")
            for extra in ("keywords", "credits"):
                if extra not in appended:
                    body.pop(extra, None)
            return 200, body
        return 404, NOT_FOUND

    def _discover(self, params: dict[str, str]) -> tuple[int, Any]:
        start = date.fromisoformat(params.get("primary_release_date.gte", "1900-01-01"))
        end = date.fromisoformat(params.get("primary_release_date.lte", "2100-01-01"))
        page = int(params.get("page", "1"))
        if not 1 <= page <= MAX_PAGE:
            return 400, {"success": False, "errors": ["page must be less than or equal to 500"]}
        released = [
            m for m in self.movies.values() if start <= date.fromisoformat(m["release_date"]) <= end
        ]
        hits = sorted(released, key=lambda m: (m["release_date"], m["id"]))
        real_pages = max(1, math.ceil(len(hits) / PAGE_SIZE))
        hook = self.total_pages_hook
        pages = hook(start, end, real_pages) if hook else real_pages
        chunk = hits[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        fields = ("id", "title", "release_date", "vote_average")
        results = [{k: m[k] for k in fields} for m in chunk]
        total = max(len(hits), (pages - 1) * PAGE_SIZE + 1) if pages > real_pages else len(hits)
        return 200, {"page": page, "results": results, "total_pages": pages, "total_results": total}


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that time out and hang up are part of the tests


class _Handler(BaseHTTPRequestHandler):
    server_fake: FakeTMDB
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stalls

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        fake = self.server_fake
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query))
        headers = {k.lower(): v for k, v in self.headers.items()}
        path = url.path.removeprefix(PREFIX) if url.path.startswith(PREFIX + "/") else url.path
        with fake._lock:
            fake.requests.append(Recorded(time.monotonic(), path, params, headers))
        if not url.path.startswith(PREFIX + "/"):
            return self._send(404, json.dumps(NOT_FOUND).encode())
        fault = fake._next_fault(path, params)
        if fault is not None and fault.reset:
            linger = struct.pack("ii", 1, 0)  # RST on close instead of a clean FIN
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            self.close_connection = True
            return
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if not fake._authorized(params, headers):
            return self._send(401, json.dumps(UNAUTHORIZED).encode())
        if fault is not None and fault.status is not None:
            return self._send(fault.status, fault.body or b"", fault.headers)
        status, body = fake.answer(path, params)
        self._send(status, json.dumps(body).encode())

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (timeout test)

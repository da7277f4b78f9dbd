"""TMDB client: discover movie ids by release-date window, then fetch each movie's details.

TMDB serves at most 500 pages of 20 results per query, so a window that reports more is split in
halves until every part fits; a single day that still does not fit is read up to the cap and the
shortfall is reported. Requests (rate limit, retries, auth) are `tmdb_http`'s job; mapping the JSON
to the raw schema is `records.tmdb_detail_to_raw`'s.
"""

from __future__ import annotations

import logging
import sys
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from datetime import date, timedelta
from types import TracebackType
from typing import Any, ClassVar, Self

import httpx
from tqdm import tqdm

from moviescore.config import Settings
from moviescore.ingest.tmdb_http import TMDBAuthError, TMDBError, TMDBTransport
from moviescore.ingest.tmdb_result import CollectResult, FailedPage, TruncatedWindow

__all__ = [
    "CollectResult",
    "FailedPage",
    "TMDBAuthError",
    "TMDBClient",
    "TMDBError",
    "TMDBNotFoundError",
    "TMDBUnavailableError",
    "TruncatedWindow",
]

log = logging.getLogger(__name__)

PAGE_SIZE = 20  # results per discover page, fixed by TMDB
DETAIL_WORKERS = 4  # concurrent detail requests; the shared rate limiter still caps the total
DISCOVER_SORT = "primary_release_date.asc"  # a stable order keeps consecutive pages consistent


class TMDBNotFoundError(TMDBError):
    """404 where the endpoint must exist: the base URL is wrong."""


class TMDBUnavailableError(TMDBError):
    """Too many requests failed in a row: TMDB or the network is down. Has the partial result."""

    def __init__(self, message: str, result: CollectResult) -> None:
        super().__init__(message)
        self.result = result


def _discover_problem(data: Any) -> str | None:
    if not isinstance(data, dict):
        return "discover page is not a JSON object"
    if not isinstance(data.get("results"), list) or not isinstance(data.get("total_pages"), int):
        return "discover page without a `results` list and an integer `total_pages`"
    if not all(isinstance(r, dict) and isinstance(r.get("id"), int) for r in data["results"]):
        return "discover result without an integer `id`"
    return None


def _detail_problem(data: Any) -> str | None:
    ok = isinstance(data, dict) and isinstance(data.get("id"), int)
    return None if ok else "movie detail without an integer `id`"


class TMDBClient:
    max_pages: ClassVar[int] = 500  # TMDB serves no page past 500 for one query
    max_consecutive_failures: int = 20  # that many failed requests in a row: stop, TMDB is down

    def __init__(
        self,
        settings: Settings,
        *,
        client: httpx.Client | None = None,
        backoff_base: float = 1.0,
        progress: bool | None = None,
    ) -> None:
        self._transport = TMDBTransport(settings, client=client, backoff_base=backoff_base)
        self._language = settings.tmdb_language
        self._progress = sys.stderr.isatty() if progress is None else progress
        self._consecutive_failures = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._transport.close()

    def discover_ids(self, start: date, end: date) -> list[int]:
        """Ids released in [start, end], deduped, in discover order. Losses are logged loudly."""
        return self._discover(start, end).ids

    def movie_details(self, movie_id: int) -> dict[str, Any] | None:
        """`/movie/{id}` with keywords and credits appended, or None when the movie is gone
        (404). The raw record keeps only a few credited names (`tmdb_details.credit_names`)."""
        params = {"append_to_response": "keywords,credits", "language": self._language}
        data: dict[str, Any] | None = self._transport.get(
            f"/movie/{movie_id}", params, _detail_problem
        )
        if data is None:
            log.warning("TMDB movie %s vanished (404); skipped", movie_id)
        return data

    def collect(self, start: date, end: date) -> CollectResult:
        """Discover [start, end], then fetch every movie's details. Raises only on auth, a wrong
        base URL, or TMDB being down (`TMDBUnavailableError`); other losses go in the result."""
        result = self._discover(start, end)
        fetched: dict[int, dict[str, Any]] = {}
        pool = ThreadPoolExecutor(max_workers=DETAIL_WORKERS, thread_name_prefix="tmdb")
        futures: dict[Future[dict[str, Any] | None], int] = {
            pool.submit(self.movie_details, movie_id): movie_id for movie_id in result.ids
        }
        bar = tqdm(total=len(futures), disable=not self._progress, unit="movie", desc="TMDB")
        try:
            for future in as_completed(futures):
                movie_id = futures[future]
                bar.update()
                try:
                    detail = future.result()
                except TMDBAuthError:
                    raise
                except TMDBError as exc:
                    result.failed_ids[movie_id] = str(exc)
                    # retries are spent: the movie is lost from this collection (the one log of it)
                    log.error("TMDB movie %s not collected: %s", movie_id, exc)
                    self._failed(result, str(exc))
                    continue
                self._consecutive_failures = 0
                if detail is None:
                    result.missing_ids.append(movie_id)
                else:
                    fetched[movie_id] = detail
        finally:
            bar.close()
            pool.shutdown(wait=False, cancel_futures=True)
        order = {movie_id: n for n, movie_id in enumerate(result.ids)}
        result.details = [fetched[i] for i in result.ids if i in fetched]
        result.missing_ids.sort(key=order.__getitem__)
        (log.info if result.complete else log.error)("%s", result.summary())
        return result

    def _discover(self, start: date, end: date) -> CollectResult:
        if start > end:
            raise ValueError(f"empty date window: {start} > {end}")
        self._consecutive_failures = 0
        result = CollectResult(start=start.isoformat(), end=end.isoformat())
        self._discover_window(start, end, result, set())
        return result

    def _discover_window(
        self, start: date, end: date, result: CollectResult, seen: set[int]
    ) -> None:
        window = f"{start.isoformat()}..{end.isoformat()}"
        first = self._discover_page(start, end, 1, result)
        if first is None:
            return
        total_pages, total_results = first["total_pages"], first.get("total_results") or 0
        # total_results too, in case TMDB ever reports total_pages already capped at 500
        too_big = total_pages > self.max_pages or total_results > self.max_pages * PAGE_SIZE
        if too_big and start < end:  # split until every half fits the cap
            mid = start + (end - start) // 2
            log.info(
                "TMDB window %s: %s pages > %s, splitting", window, total_pages, self.max_pages
            )
            self._discover_window(start, mid, result, seen)
            self._discover_window(mid + timedelta(days=1), end, result, seen)
            return
        if too_big:
            lost = TruncatedWindow(window, total_results, self.max_pages * PAGE_SIZE)
            result.truncated_windows.append(lost)
            log.error(
                "TMDB window %s: ~%s results past the %s-page cap are NOT collected",
                window,
                lost.shortfall,
                self.max_pages,
            )
        pages = [first]
        for page in range(2, min(total_pages, self.max_pages) + 1):
            if (data := self._discover_page(start, end, page, result)) is not None:
                pages.append(data)
        for data in pages:
            for movie in data["results"]:
                if movie["id"] not in seen:
                    seen.add(movie["id"])
                    result.ids.append(movie["id"])

    def _discover_page(
        self, start: date, end: date, page: int, result: CollectResult
    ) -> dict[str, Any] | None:
        params = {
            "primary_release_date.gte": start.isoformat(),
            "primary_release_date.lte": end.isoformat(),
            "sort_by": DISCOVER_SORT,
            "page": page,
            "language": self._language,
            "include_adult": "false",
        }
        try:
            data: dict[str, Any] | None = self._transport.get(
                "/discover/movie", params, _discover_problem
            )
        except TMDBAuthError:
            raise
        except TMDBError as exc:
            window = f"{start.isoformat()}..{end.isoformat()}"
            result.failed_pages.append(FailedPage(window, page, str(exc)))
            log.warning("TMDB discover %s page %s failed: %s", window, page, exc)
            self._failed(result, str(exc))
            return None
        if data is None:
            base = self._transport.mask(self._transport.base_url)
            raise TMDBNotFoundError(
                f"TMDB answered 404 for {base}/discover/movie: check TMDB_BASE_URL "
                "(expected e.g. https://api.themoviedb.org/3)"
            )
        self._consecutive_failures = 0
        return data

    def _failed(self, result: CollectResult, error: str) -> None:
        self._consecutive_failures += 1
        if self._consecutive_failures >= self.max_consecutive_failures:
            raise TMDBUnavailableError(
                f"TMDB failed {self._consecutive_failures} requests in a row, stopping "
                f"(last error: {error}); so far: {result.summary()}",
                result,
            )

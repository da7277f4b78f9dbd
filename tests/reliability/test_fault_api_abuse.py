"""Bodies, heads and connections that once made `moviescore serve` answer 500, stall or grow:
each probe runs against the live server with the settings users get (`served_api`)."""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import h11
import httpx
import psutil
import pytest
from reliability.probes import BODY_TIMEOUT_SECONDS, ServedAPI
from textblob import TextBlob

pytestmark = pytest.mark.integration

MOVIE = {"title": "Abuse", "original_language": "en", "release_date": "2027-01-01"}
MAX_ERROR_BYTES = 8_000
MANY_KEYS = "{" + ",".join(f'"key{i}":1' for i in range(150_000)) + "}"  # ~1.9 MB
MISSING_FIELDS = json.dumps({"movies": [{"runtime": 90}] * 1000})
WIDE_MOVIES = json.dumps({"movies": [MOVIE | {f"key{i}": 1 for i in range(60)}] * 1000})


def movie_with(raw: str) -> bytes:
    return ('{"title": "x", "original_language": "en", "release_date": "2027-01-01", '
            f'"runtime": {raw}}}').encode()  # fmt: skip


RAW_BODIES = {
    "bare NaN": movie_with("NaN"),
    "-Infinity": movie_with("-Infinity"),
    "Infinity in a list": movie_with("1").replace(b'"x"', b'"x", "genres": [Infinity]'),
    "1e999 (a float overflow)": movie_with("1e999"),
    "a 5000-digit integer": movie_with("9" * 5000),
    "a lone surrogate in a value": movie_with("1").replace(b'"x"', b'"\\ud800"'),
    "a lone surrogate as a key": movie_with("1").replace(b'"title"', b'"\\udc00"'),
    "nesting 100,000 deep": movie_with("[" * 100_000 + "]" * 100_000),
    "not UTF-8": movie_with("1").replace(b'"x"', b'"\xff\xfe"'),
    "150,000 unknown keys": MANY_KEYS.encode(),
    "1000 movies missing fields": MISSING_FIELDS.encode(),
    "1000 movies with 60 unknown keys each": WIDE_MOVIES.encode(),
}


@pytest.mark.parametrize("name", list(RAW_BODIES))
def test_malformed_body_is_a_small_quick_4xx_that_echoes_nothing(
    served_api: ServedAPI, name: str
) -> None:
    body = RAW_BODIES[name]
    path = "/predict/batch" if body.startswith(b'{"movies"') else "/predict"
    began = time.monotonic()
    answer = httpx.post(served_api.url + path, content=body, timeout=10,
                        headers={"content-type": "application/json"})  # fmt: skip
    elapsed = time.monotonic() - began
    assert answer.status_code == 422, answer.text[:500]
    assert len(answer.content) < MAX_ERROR_BYTES and elapsed < 2.0, (len(answer.content), elapsed)
    detail = answer.json()["detail"]
    assert detail and all(error["loc"][0] == "body" for error in detail)
    assert b"key149999" not in answer.content and b"99999999999" not in answer.content


def test_a_bad_request_does_not_break_the_pooled_or_the_pipelined_connection(
    served_api: ServedAPI,
) -> None:
    """The 500s closed the connection without `Connection: close`: the pooled client's next
    request was reset and a request pipelined behind the bad one was lost."""
    with httpx.Client(timeout=10) as client:  # one pooled keep-alive connection
        for body in (movie_with("NaN"), movie_with("1").replace(b'"x"', b'"\\ud800"')):
            bad = client.post(served_api.url + "/predict", content=body,
                              headers={"content-type": "application/json"})  # fmt: skip
            assert bad.status_code == 422 and "connection" not in bad.headers
            assert client.post(served_api.url + "/predict", json=MOVIE).status_code == 200
    host, port = served_api.url.removeprefix("http://").split(":")
    conn = h11.Connection(h11.CLIENT)
    requests = b""
    for body in (movie_with("NaN"), json.dumps(MOVIE).encode()):
        requests += conn.send(h11.Request(method="POST", target="/predict", headers=[
            ("host", host), ("content-type", "application/json"),
            ("content-length", str(len(body)))]))  # fmt: skip
        requests += conn.send(h11.Data(data=body)) + conn.send(h11.EndOfMessage())
        conn = h11.Connection(h11.CLIENT)  # h11 writes one request per cycle; pipeline by hand
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(requests)  # both requests in one write: the second waits behind the first
        reader = h11.Connection(h11.CLIENT)
        reader.send(h11.Request(method="POST", target="/", headers=[("host", host),
                                ("content-length", "0")]))  # fmt: skip
        reader.send(h11.EndOfMessage())
        statuses = []
        while len(statuses) < 2:
            event = reader.next_event()
            if event is h11.NEED_DATA:
                data = sock.recv(65536)
                assert data, f"connection closed after {statuses}"
                reader.receive_data(data)
            elif isinstance(event, h11.Response):
                statuses.append(event.status_code)
            elif isinstance(event, h11.EndOfMessage):
                reader.start_next_cycle()
                reader.send(h11.Request(method="POST", target="/", headers=[("host", host),
                                        ("content-length", "0")]))  # fmt: skip
                reader.send(h11.EndOfMessage())
    assert statuses == [422, 200]


def test_four_huge_bodies_at_once_do_not_stall_health_or_predict(served_api: ServedAPI) -> None:
    """Four 150,000-key bodies at once used to take ~3 s each on the event loop."""

    def huge() -> int:
        return httpx.post(served_api.url + "/predict", content=MANY_KEYS, timeout=30,
                          headers={"content-type": "application/json"}).status_code  # fmt: skip

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(huge) for _ in range(4)]
        time.sleep(0.05)
        began = time.monotonic()
        assert httpx.get(served_api.url + "/health", timeout=5).status_code == 200
        assert httpx.post(served_api.url + "/predict", json=MOVIE, timeout=5).status_code == 200
        slowest = time.monotonic() - began
        assert [f.result() for f in futures] == [422] * 4
    assert slowest < 2.0, slowest  # it was ~3 s per body, one after another


def _rss(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


def test_unfinished_huge_headers_are_cut_off_without_growing_memory(served_api: ServedAPI) -> None:
    """Four clients each start a 100 MB header and never finish it (it took the API from 389 to
    799 MiB on httptools); the request head is capped, the connection closed early."""
    host, port = served_api.url.removeprefix("http://").split(":")
    before = peak = _rss(served_api.pid)
    accepted: list[int] = []
    chunk = b"a" * 1024 * 1024

    def unfinished_header() -> None:
        sent = 0
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            try:
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ")
                while sent < 100 * len(chunk):
                    sock.sendall(chunk)
                    sent += len(chunk)
            except OSError:  # reset or broken pipe: the server gave up on us
                pass
        accepted.append(sent)

    threads = [threading.Thread(target=unfinished_header) for _ in range(4)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        peak = max(peak, _rss(served_api.pid))
        time.sleep(0.02)
    growth_mib = (peak - before) / 2**20
    assert growth_mib < 50, growth_mib
    assert all(sent < 100 * len(chunk) for sent in accepted), accepted  # cut off, not drained
    assert httpx.get(served_api.url + "/health", timeout=5).status_code == 200


def test_an_unfinished_request_head_is_cut_off_with_408(served_api: ServedAPI) -> None:
    """Half a head, then silence, used to hold a connection for good: on a fresh connection and
    on a kept-alive one after a first answer."""
    from app.http_protocol import HEAD_TIMEOUT_SECONDS

    host, port = served_api.url.removeprefix("http://").split(":")
    results: dict[str, tuple[bytes, float]] = {}

    def probe(name: str, first: bytes) -> None:
        with socket.create_connection((host, int(port)), timeout=HEAD_TIMEOUT_SECONDS + 10) as s:
            if first:
                s.sendall(first)
                reply = b""
                while not reply.endswith(b"}"):  # the whole first answer, head and JSON body
                    reply += s.recv(65536)
                assert reply.startswith(b"HTTP/1.1 200")
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            began, answer = time.monotonic(), b""
            while data := s.recv(65536):
                answer += data
            results[name] = (answer, time.monotonic() - began)

    threads = [threading.Thread(target=probe, args=("fresh", b"")),
               threading.Thread(target=probe, args=("kept-alive",
                                b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"))]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for name, (answer, waited) in results.items():
        assert answer.startswith(b"HTTP/1.1 408"), (name, answer[:100])
        assert HEAD_TIMEOUT_SECONDS - 1 < waited < HEAD_TIMEOUT_SECONDS + 3, (name, waited)
    assert len(results) == 2


SLOW_BODIES = {
    "declared length": b'Content-Length: 1000\r\n\r\n{"title": ',
    "chunked": b'Transfer-Encoding: chunked\r\n\r\na\r\n{"title": \r\n',
}


@pytest.mark.parametrize("framing", SLOW_BODIES)
def test_a_slow_body_times_out_with_408(served_api: ServedAPI, framing: str) -> None:
    host, port = served_api.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=BODY_TIMEOUT_SECONDS + 10) as sock:
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     + SLOW_BODIES[framing])  # fmt: skip
        began = time.monotonic()
        answer = b""
        while not answer.endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
        waited = time.monotonic() - began
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"not received within" in answer
        assert sock.recv(65536) == b""  # and the half-sent request's connection is closed
    assert BODY_TIMEOUT_SECONDS - 0.5 < waited < BODY_TIMEOUT_SECONDS + 3, waited


def test_error_responses_are_valid_json_of_the_documented_shape(served_api: ServedAPI) -> None:
    answer = httpx.post(served_api.url + "/predict/batch", content=MISSING_FIELDS, timeout=10,
                        headers={"content-type": "application/json"})  # fmt: skip
    payload: dict[str, Any] = answer.json()
    assert answer.status_code == 422 and len(payload["detail"]) <= 20
    assert set(payload["detail"][0]) == {"loc", "msg", "type"}
    # fail-fast: the first broken movie's errors, not 3,000
    assert payload["detail"][0]["loc"] == ["body", "movies", 0, "title"]


def test_long_overviews_do_not_fill_the_sentiment_cache(served_api: ServedAPI) -> None:
    """10,000-character overviews, each new: the cache kept every one (65,536 of them: ~0.6 GB);
    now only texts up to MAX_CACHED_TEXT_BYTES are cached, and the numbers are the same."""
    import random

    from moviescore.training import features

    words = ["a", "brilliant", "moving", "honest", "dull", "awful", "story", "of", "grief",
             "hope", "and", "war"]  # fmt: skip
    rng = random.Random(0)

    def overview() -> str:
        return " ".join(rng.choice(words) for _ in range(2500))[:10_000]

    text = overview()
    before = features._cached_text_stats.cache_info().currsize
    assert features.sentiment(text) == TextBlob(text).sentiment  # same numbers as TextBlob
    assert features._cached_text_stats.cache_info().currsize == before  # and not kept

    def batch() -> None:
        movies = [MOVIE | {"overview": overview()} for _ in range(150)]  # ~1.5 MB body
        answer = httpx.post(served_api.url + "/predict/batch", json={"movies": movies}, timeout=60)
        assert answer.status_code == 200, answer.text[:300]

    batch()  # warm: the first big batch sizes the server's buffers
    start = _rss(served_api.pid)
    for _ in range(6):  # 900 new overviews, 9 MB of text the old cache would have kept
        batch()
    growth_mib = (_rss(served_api.pid) - start) / 2**20
    assert growth_mib < 4, growth_mib


def test_a_refused_body_that_never_comes_does_not_hold_the_connection(
    served_api: ServedAPI,
) -> None:
    """A declared 1 GB body is refused (413) before it is read; a client that then sends
    nothing is cut off after the body time limit instead of holding its connection."""
    host, port = served_api.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=BODY_TIMEOUT_SECONDS + 10) as sock:
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000000000\r\n\r\n{")  # fmt: skip
        began, answer = time.monotonic(), b""
        while data := sock.recv(65536):
            answer += data
        waited = time.monotonic() - began
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert answer.count(b"HTTP/1.1") == 1  # no second answer on the same request
    assert waited < BODY_TIMEOUT_SECONDS + 3, waited


def _one_answer(sock: socket.socket) -> bytes:
    """One whole HTTP answer (head and Content-Length body) from a kept-alive connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {data[:200]!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")))  # fmt: skip
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside the body"
        body += chunk
    return head


def test_a_body_in_pieces_within_the_limit_is_answered_and_the_connection_kept(
    served_api: ServedAPI,
) -> None:
    """The body timer a split body arms is stopped when the body completes: the answer is 200,
    and the kept-alive connection still serves a request sent after the limit has passed."""
    host, port = served_api.url.removeprefix("http://").split(":")
    body = json.dumps(MOVIE).encode()
    head = (b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")  # fmt: skip
    with socket.create_connection((host, int(port)), timeout=BODY_TIMEOUT_SECONDS + 10) as sock:
        for pause in (BODY_TIMEOUT_SECONDS + 0.5, 0):
            sock.sendall(head + body[:10])
            time.sleep(BODY_TIMEOUT_SECONDS / 4)  # the rest of the body comes in time
            sock.sendall(body[10:])
            assert _one_answer(sock).startswith(b"HTTP/1.1 200")
            time.sleep(pause)  # the second round starts after a full limit has passed

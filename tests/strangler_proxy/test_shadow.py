"""Shadow mode: the monolith answers, the service is mirrored and compared; real upstreams on loopback."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import websockets

from strangler_proxy.diffing import Answer, Rules, differences, widened
from strangler_proxy.errors import RouteError
from tests.strangler_proxy import servers
from tests.strangler_proxy.shadow_apps import ProductApp
from tests.strangler_proxy.test_proxying import cut_over


def shadow_route(proxy, name="products", match="/api/products/<int:id>", **settings):
    cut_over(proxy, name, match, policy={"mode": "monolith"})
    body: dict = {"mode": "shadow", "why": "test"}
    if settings:
        body["options"] = {"shadow": settings}
    with proxy.admin() as admin:
        resp = admin.patch(f"/api/routes/{name}", json=body)
        assert resp.status_code == 200, resp.text
        proxy.wait_for_version(resp.json()["version"])


def diff_report(proxy, name="products", until=lambda d: True, seconds=10.0) -> dict:
    """The route's diff once `until` holds (workers add their figures once a second)."""
    deadline = time.monotonic() + seconds
    with proxy.admin() as admin:
        while True:
            data = admin.get(f"/api/routes/{name}/diff").json()
            if until(data) or time.monotonic() > deadline:
                return data
            time.sleep(0.1)


def test_a_wrong_price_is_caught_and_a_changing_timestamp_is_learned_as_noise(
    start_proxy, products
):
    apps, urls = products
    proxy = start_proxy(upstream_urls=urls)
    shadow_route(proxy)
    with httpx.Client(base_url=proxy.url, timeout=10) as client:
        for pid in range(100):
            resp = client.get(f"/api/products/{pid}")
            assert resp.status_code == 200
            assert resp.headers["x-figkit-upstream"] == "monolith"
            assert resp.json()["price"] == pid * 10  # always the monolith's answer
    data = diff_report(proxy, until=lambda d: d["compared"] >= 100)
    assert data["compared"] == 100, data
    assert data["mismatched"] == 20, data  # ids 0, 5, 10, ...: nothing else counted
    assert "$.generated_at" in data["noise"]
    assert data["samples"], data
    for sample in data["samples"]:
        assert sample["path"] == "$.price"
        pid = int(sample["target"].rsplit("/", 1)[1])
        assert pid % 5 == 0
        assert (sample["monolith"], sample["service"]) == (pid * 10, pid * 10 + 1)
    assert apps["catalog"].seen[("GET", "/api/products/7")] == 1
    assert set(apps["catalog"].shadow_headers) == {"service"}
    assert "monolith" in apps["monolith"].shadow_headers  # the noise calls say what they are


def test_a_slow_service_never_slows_the_client_and_a_full_queue_drops(start_proxy, products):
    apps, urls = products
    apps["catalog"].delay = 0.5
    proxy = start_proxy(upstream_urls=urls, shadow={"queue": 2, "concurrency": 1})
    shadow_route(proxy)
    with httpx.Client(base_url=proxy.url, timeout=10) as client:
        started = time.monotonic()
        for pid in range(1, 21):
            assert client.get(f"/api/products/{pid}").status_code == 200
        elapsed = time.monotonic() - started
    assert elapsed < 2.0, f"20 requests took {elapsed:.2f} s behind a 0.5 s shadow service"
    data = diff_report(proxy, until=lambda d: d["dropped"] > 0)
    assert data["dropped"] >= 15, data
    assert data["dropped"] + data["compared"] <= 20


def test_only_safe_methods_are_mirrored_unless_the_route_says_so(start_proxy, products):
    apps, urls = products
    proxy = start_proxy(upstream_urls=urls)
    shadow_route(proxy)
    resp = httpx.post(f"{proxy.url}/api/products/3", content=b"x" * 100)
    assert resp.status_code == 201 and resp.json()["received"] == 100
    httpx.get(f"{proxy.url}/api/products/3")
    diff_report(proxy, until=lambda d: d["compared"] >= 1)
    assert apps["catalog"].seen[("POST", "/api/products/3")] == 0
    assert apps["catalog"].seen[("GET", "/api/products/3")] == 1

    shadow_route(proxy, "writes", "/api/products/<int:id>/", methods=["GET", "POST"])
    httpx.post(f"{proxy.url}/api/products/4/", content=b"y" * 300)
    diff_report(proxy, "writes", until=lambda d: d["compared"] >= 1)
    assert apps["catalog"].bodies == [b"y" * 300]  # the teed body went along


def test_redacted_fields_and_secret_headers_never_appear_in_samples(start_proxy, products):
    apps, urls = products
    apps["catalog"].wrong_price_every = 0
    apps["catalog"].wrong_email = True
    proxy = start_proxy(upstream_urls=urls)
    shadow_route(proxy, redact=["$.email"], noise_rate=0, ignore=["$.generated_at"])
    httpx.get(f"{proxy.url}/api/products/2")
    data = diff_report(proxy, until=lambda d: d["mismatched"] >= 1)
    assert data["mismatched"] == 1 and data["noise"] == []
    assert data["samples"][0]["path"] == "$.email"
    assert data["samples"][0]["monolith"] == data["samples"][0]["service"] == "[redacted]"
    found = differences(
        Answer(200, {"set-cookie": "a=1"}), Answer(200, {"set-cookie": "a=2"}), limit=5
    )
    assert [(d.path, d.a, d.b) for d in found] == [
        ("header:set-cookie", "[redacted]", "[redacted]")
    ]


def test_event_streams_and_websockets_pass_in_shadow_mode_and_are_never_mirrored(
    start_proxy, upstreams
):
    service = ProductApp("catalog")
    running = servers.start(service)
    try:
        proxy = start_proxy(upstream_urls={**upstreams, "catalog": running.url})
        shadow_route(proxy, "everything", "/*")
        with httpx.stream("GET", f"{proxy.url}/sse?n=3&gap=0.01", timeout=10) as resp:
            events = [line for line in resp.iter_lines() if line.startswith("data:")]
        assert events == ["data: 0", "data: 1", "data: 2"]

        async def talk() -> str:
            ws_url = proxy.url.replace("http://", "ws://") + "/ws"
            async with websockets.connect(ws_url) as ws:
                await ws.send("hello")
                return await ws.recv()

        assert asyncio.run(talk()) == "hello"
        httpx.get(f"{proxy.url}/echo")
        data = diff_report(proxy, "everything", until=lambda d: d["compared"] >= 1)
        assert data["compared"] == 1
        assert sum(service.seen.values()) == 1, service.seen  # only /echo was mirrored
    finally:
        running.stop()


def test_shadow_settings_are_checked(proxy):
    cut_over(proxy, "p", "/p/*", policy={"mode": "monolith"})
    with proxy.admin() as admin:
        for settings, words in (
            ({"ignore": ["generated_at"]}, "is not a JSONPath"),
            ({"ignore": ["$.items["]}, "not a valid JSONPath"),
            ({"ignore": "$.a"}, "must be a list"),
            ({"noise_rate": 2}, "from 0 to 1"),
            ({"methods": ["get"]}, "upper-case"),
            ({"colour": 1}, "unknown shadow setting"),
        ):
            resp = admin.patch(
                "/api/routes/p",
                json={"mode": "shadow", "options": {"shadow": settings}, "why": "t"},
            )
            assert resp.status_code == 400 and words in resp.json()["detail"], resp.text


def test_json_is_compared_structurally_and_text_exactly():
    def j(body: bytes) -> Answer:
        return Answer(200, {}, body, "application/json")

    assert differences(j(b'{"a": 1, "b": [1, 2]}'), j(b'{"b": [1, 2.0], "a": 1}')) == []
    assert [d.path for d in differences(j(b'{"a": true}'), j(b'{"a": 1}'))] == ["$.a"]
    assert [(d.path, d.b) for d in differences(j(b'{"l": [1]}'), j(b'{"l": [1, 2]}'))] == [
        ("$.l[1]", 2)
    ]
    nested = (
        j(b'{"x": {"etag": 1, "y": [{"etag": 2}]}}'),
        j(b'{"x": {"etag": 5, "y": [{"etag": 6}]}}'),
    )
    assert len(differences(*nested, limit=5)) == 2
    assert differences(*nested, Rules.of(["$..etag"])) == []
    text = (Answer(200, {}, b"hello", "text/plain"), Answer(200, {}, b"hellO", "text/plain"))
    assert [d.path for d in differences(*text)] == ["$"]
    assert [d.path for d in differences(Answer(200), Answer(404))] == ["status"]
    assert widened("$.items[12].price") == "$.items[*].price"
    with pytest.raises(RouteError):
        Rules.of(["$[?"])


def test_gzip_answers_are_compared_decoded_and_a_bomb_stops_at_the_cap():
    import gzip

    from strangler_proxy.mirror import answer_of

    headers = [(b"Content-Encoding", b"gzip"), (b"Content-Type", b"application/json")]
    small = answer_of(200, headers, gzip.compress(b'{"price": 10}'), (), 1024)
    assert small.document() == {"price": 10}
    plain = Answer(200, {}, b'{"price": 10}', "application/json")
    assert differences(small, plain) == []
    bomb = answer_of(200, headers, gzip.compress(b"0" * 50_000_000), (), 4096)
    assert len(bomb.body) == 4096


def test_odd_keys_nan_and_very_deep_documents_compare_without_failing():
    import jsonpath

    from strangler_proxy.diffing import path_text

    for key in ("a b", "it's", 'say "hi"', "\x00k", "back\\slash", "*", "a-b"):
        path = path_text((key, 1))
        assert [m.parts for m in jsonpath.compile(path).finditer({key: [0, 5]})] == [(key, 1)]

    def j(body: bytes) -> Answer:
        return Answer(200, {}, body, "application/json")

    assert differences(j(b"[NaN, 1]"), j(b"[NaN, 1.0]")) == []
    for depth in (900, 990):
        deep = [j(b"[" * depth + x + b"]" * depth) for x in (b"1", b"2")]
        found = differences(*deep)
        assert len(found) == 1 and found[0].path.startswith("$")
        assert differences(deep[0], deep[0]) == []

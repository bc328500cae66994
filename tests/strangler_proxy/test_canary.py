"""Canary mode: a sticky share of users on the service, through a real worker and real upstreams."""

from __future__ import annotations

import httpx
import pytest

from strangler_proxy.behaviours.canary import COOKIE, Points, bucket, cookie_value
from strangler_proxy.errors import RouteError
from strangler_proxy.policy import Policy
from tests.strangler_proxy.test_proxying import cut_over


def _set_canary(proxy, name: str, percent: float, sticky: str | None = None) -> None:
    settings: dict = {"percent": percent}
    if sticky:
        settings["sticky"] = sticky
    with proxy.admin() as admin:
        resp = admin.patch(
            f"/api/routes/{name}",
            json={"mode": "canary", "options": {"canary": settings}, "why": "test"},
        )
        assert resp.status_code == 200, resp.text
        proxy.wait_for_version(resp.json()["version"])


def _sides(proxy, users: range, header: str = "X-User") -> dict[int, str]:
    with httpx.Client(base_url=proxy.url, timeout=10) as client:
        return {
            u: client.get("/api/catalog/p", headers={header: f"user-{u}"}).headers["x-upstream"]
            for u in users
        }


def test_canary_sends_its_share_of_users_and_each_user_stays_on_one_side(proxy):
    cut_over(proxy, "cat", "/api/catalog/*", policy={"mode": "monolith"})
    _set_canary(proxy, "cat", 20, "header:X-User")
    users = range(2000)
    first = _sides(proxy, users)
    share = sum(side == "catalog" for side in first.values()) / len(users)
    assert 0.17 <= share <= 0.23, share
    assert set(first.values()) == {"catalog", "monolith"}
    again = _sides(proxy, range(0, 2000, 7))
    assert all(first[u] == side for u, side in again.items()), "a user changed sides"

    _set_canary(proxy, "cat", 50, "header:X-User")
    raised = _sides(proxy, users)
    assert all(raised[u] == "catalog" for u, side in first.items() if side == "catalog"), (
        "raising the share moved users back to the monolith"
    )
    share = sum(side == "catalog" for side in raised.values()) / len(users)
    assert 0.47 <= share <= 0.53, share


def test_a_user_without_a_key_gets_the_proxys_cookie_and_keeps_their_side(proxy):
    cut_over(proxy, "cat", "/api/catalog/*", policy={"mode": "monolith"})
    _set_canary(proxy, "cat", 50)
    sides = set()
    for _ in range(40):
        first = httpx.get(f"{proxy.url}/api/catalog/p")
        cookie = first.cookies.get(COOKIE)
        assert cookie, first.headers
        assert "HttpOnly" in first.headers["set-cookie"]
        for _ in range(3):
            again = httpx.get(f"{proxy.url}/api/catalog/p", cookies={COOKIE: cookie})
            assert again.headers["x-upstream"] == first.headers["x-upstream"]
            assert "set-cookie" not in again.headers  # known users get no new cookie
        sides.add(first.headers["x-upstream"])
    assert sides == {"catalog", "monolith"}


def test_canary_at_0_and_100_percent(proxy):
    cut_over(proxy, "cat", "/api/catalog/*", policy={"mode": "monolith"})
    for percent, everyone in ((0, "monolith"), (100, "catalog")):
        _set_canary(proxy, "cat", percent, "cookie:sid")
        with httpx.Client(base_url=proxy.url) as client:
            sides = {
                client.get("/api/catalog/p", headers={"Cookie": f"sid={u}"}).headers["x-upstream"]
                for u in range(50)
            }
        assert sides == {everyone}, percent


def test_canary_settings_are_checked_by_the_admin_api(proxy):
    cut_over(proxy, "cat", "/api/catalog/*", policy={"mode": "monolith"})
    with proxy.admin() as admin:
        for settings, words in (
            ({"percent": 120}, "from 0 to 100"),
            ({"percent": "20"}, "from 0 to 100"),
            ({"percent": 5, "sticky": "ip:x"}, "cookie:NAME or header:NAME"),
        ):
            resp = admin.patch(
                "/api/routes/cat",
                json={"mode": "canary", "options": {"canary": settings}, "why": "t"},
            )
            assert resp.status_code == 400 and words in resp.json()["detail"], resp.text
        resp = admin.patch("/api/routes/cat", json={"mode": "canary", "why": "t"})
        assert resp.status_code == 400 and "options['canary']" in resp.json()["detail"]


def test_the_hash_is_stable_uniform_and_salted_by_target():
    points = [bucket(b"catalog", b"user-%d" % i) for i in range(20000)]
    assert points == [bucket(b"catalog", b"user-%d" % i) for i in range(20000)]
    for edge in (0.1, 0.25, 0.5, 0.9):
        assert abs(sum(p < edge for p in points) / len(points) - edge) < 0.015
    other = [bucket(b"orders", b"user-%d" % i) for i in range(1000)]
    assert other != points[:1000]


def test_cookie_values_are_read_from_every_cookie_header():
    headers = [(b"Cookie", b"a=1; sid=xyz"), (b"cookie", b'other="q"')]
    assert cookie_value(headers, b"sid") == b"xyz"
    assert cookie_value(headers, b"other") == b"q"
    assert cookie_value(headers, b"missing") is None
    assert cookie_value([(b"Cookie", b"xsid=1")], b"sid") is None


def test_a_canary_policy_needs_a_percentage():
    with pytest.raises(RouteError, match="needs its settings"):
        Policy("canary").validate("r")


def test_remembered_points_are_the_hash_itself_even_past_the_memory_limit(monkeypatch):
    monkeypatch.setattr(Points, "MAX_REMEMBERED", 50)
    points = Points(b"catalog")
    keys = [b"user-%d" % i for i in range(120)] * 2
    assert [points(k) for k in keys] == [bucket(b"catalog", k) for k in keys]
    assert len(points.known) <= 50

"""The dashboard on the admin port: its login, CSRF guard and page, in headless Chromium.

The browser half drives Debian's chromium with Playwright against a real worker and admin
API: log in, promote a route, see the mode change and the audit row appear, see the gate
refuse, set a canary, inject and clear a fault, roll back.
"""

from __future__ import annotations

import time

import httpx

from tests.strangler_proxy.conftest import ADMIN_SECRET, READ_SECRET
from tests.strangler_proxy.test_gates import drive
from tests.strangler_proxy.test_proxying import cut_over


def login(proxy, token: str = ADMIN_SECRET) -> tuple[httpx.Client, str]:
    resp = httpx.post(f"{proxy.admin_url}/dashboard/login", json={"token": token})
    assert resp.status_code == 200, resp.text
    cookie = resp.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert token not in cookie
    client = httpx.Client(base_url=proxy.admin_url, timeout=10, cookies=resp.cookies)
    return client, resp.json()["csrf"]


def test_a_dashboard_session_reads_and_changes_only_with_its_csrf_token(proxy):
    cut_over(proxy, "cat", "/api/catalog/*", policy={"mode": "monolith"})
    client, csrf = login(proxy)
    with client:
        assert client.get("/api/overview").json()["routes"][0]["name"] == "cat"
        body = {"mode": "service", "why": "from the dashboard"}
        missing = client.patch("/api/routes/cat", json=body)
        assert missing.status_code == 403 and "CSRF" in missing.json()["detail"]
        wrong = client.patch("/api/routes/cat", json=body, headers={"X-CSRF-Token": "x" * 43})
        assert wrong.status_code == 403
        elsewhere = client.patch(
            "/api/routes/cat",
            json=body,
            headers={"X-CSRF-Token": csrf, "Origin": "http://evil.example"},
        )
        assert elsewhere.status_code == 403
        done = client.patch("/api/routes/cat", json=body, headers={"X-CSRF-Token": csrf})
        assert done.status_code == 200, done.text
        history = client.get("/api/history").json()["changes"]
        assert history[0]["who"] == "ops" and history[0]["why"] == "from the dashboard"
        assert client.post("/dashboard/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
        assert client.get("/api/overview").status_code == 401


def test_login_takes_a_json_body_only_and_a_read_token_may_only_look(proxy):
    form = httpx.post(f"{proxy.admin_url}/dashboard/login", data={"token": ADMIN_SECRET})
    assert form.status_code == 415  # a cross-site form cannot log a browser in
    bad = httpx.post(f"{proxy.admin_url}/dashboard/login", json={"token": "nope-nope"})
    assert bad.status_code == 401
    cut_over(proxy, "cat", "/api/catalog/*", policy={"mode": "monolith"})
    client, csrf = login(proxy, READ_SECRET)
    with client:
        assert client.get("/api/overview").status_code == 200
        denied = client.post(
            "/api/rollback", json={"route": "cat", "why": "x"}, headers={"X-CSRF-Token": csrf}
        )
        assert denied.status_code == 403 and "may only read" in denied.json()["detail"]


def test_the_page_is_self_contained_and_locked_down(proxy):
    page = httpx.get(f"{proxy.admin_url}/dashboard")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    script = httpx.get(f"{proxy.admin_url}/dashboard/app.js")
    assert script.status_code == 200
    assert "http://" not in script.text and "https://" not in script.text
    assert httpx.get(f"{proxy.admin_url}/dashboard/secrets.txt").status_code == 404
    assert httpx.get(f"{proxy.admin_url}/", follow_redirects=False).headers["location"] == (
        "/dashboard"
    )


def _row(page, route: str):
    return page.locator(f'tr[data-route="{route}"]')


def _mode(page, route: str) -> str:
    return _row(page, route).locator("td.mode").inner_text().split("\n")[0]


def _eventually(check, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the page never showed it"
        time.sleep(0.1)


def test_promote_from_the_dashboard_changes_the_mode_and_the_audit_log(browser, start_proxy):
    proxy = start_proxy(gates={"min_requests": 5, "ladder": [50]})
    cut_over(proxy, "cat", "/api/catalog/*", policy={"mode": "monolith"})
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    problems: list[str] = []
    urls: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("request", lambda r: urls.append(r.url))
    try:
        page.goto(f"{proxy.admin_url}/dashboard")
        page.fill("#token", ADMIN_SECRET)
        page.click("#login-form button[type=submit]")
        _row(page, "cat").wait_for(timeout=10_000)
        assert _mode(page, "cat") == "monolith"

        page.fill("#why", "start shadowing from the dashboard")
        _row(page, "cat").locator("button.promote").click()
        _eventually(lambda: _mode(page, "cat") == "shadow")
        first = page.locator("#history tbody tr").first
        _eventually(lambda: first.locator("td.action").inner_text() == "promote")
        assert "start shadowing from the dashboard" in first.inner_text()
        assert "ops" in first.inner_text()

        _row(page, "cat").locator("button.promote").click()  # nothing compared yet
        _eventually(lambda: "refused" in page.locator("#message").inner_text())
        assert "only 0 shadow comparisons" in page.locator("#message").inner_text()
        assert _mode(page, "cat") == "shadow"

        _row(page, "cat").locator("select.mode-select").select_option("canary")
        _row(page, "cat").locator("input.percent").fill("30")
        _row(page, "cat").locator("button.set-mode").click()
        _eventually(lambda: _mode(page, "cat") == "canary 30%")

        _row(page, "cat").locator("input.fault-delay").fill("20")
        _row(page, "cat").locator("button.fault-on").click()
        _eventually(lambda: "fault:" in _row(page, "cat").locator("td.mode").inner_text())
        _row(page, "cat").locator("button.fault-off").click()
        _eventually(lambda: "fault:" not in _row(page, "cat").locator("td.mode").inner_text())

        _row(page, "cat").locator("button.rollback").click()
        _eventually(lambda: _mode(page, "cat") == "monolith")
        actions = page.locator("#history tbody td.action").all_inner_texts()
        assert actions[:5] == ["rollback", "set-options", "set-options", "set-mode", "promote"]

        page.reload()  # the session survives a reload; the token was never stored
        _row(page, "cat").wait_for(timeout=10_000)
        storage = page.evaluate("JSON.stringify(localStorage) + JSON.stringify(sessionStorage)")
        assert ADMIN_SECRET not in storage
        assert not any(ADMIN_SECRET in url for url in urls)
        assert all(url.startswith(proxy.admin_url) for url in urls)  # nothing from a CDN
        # Chromium logs every non-2xx fetch; the gate's 409 above was the expected refusal.
        assert [p for p in problems if "status of 409" not in p] == [], problems
    finally:
        page.close()


def test_the_dashboard_walks_a_route_to_the_service_behind_its_gates(
    browser, start_proxy, products
):
    apps, urls = products
    apps["catalog"].wrong_price_every = 0  # a service that answers as the monolith does
    proxy = start_proxy(upstream_urls=urls, gates={"min_requests": 10, "ladder": [50]})
    cut_over(proxy, "products", "/api/products/<int:id>", policy={"mode": "monolith"})
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    try:
        page.goto(f"{proxy.admin_url}/dashboard")
        page.fill("#token", ADMIN_SECRET)
        page.click("#login-form button[type=submit]")
        _row(page, "products").wait_for(timeout=10_000)
        page.fill("#why", "walk it")
        promote = _row(page, "products").locator("button.promote")

        def step(to: str) -> None:
            promote.click()
            _eventually(lambda: _mode(page, "products") == to)

        step("shadow")
        drive(proxy, lambda w: w["compared"] >= 12)
        shadow = _row(page, "products").locator("td.shadow")
        _eventually(
            lambda: shadow.inner_text().startswith("0 of ") and "0 of 0" not in shadow.inner_text()
        )
        assert "noise: $.generated_at" in shadow.inner_text()
        step("canary 50%")
        drive(proxy, lambda w: w["requests"] >= 12)
        step("service")
        _row(page, "products").locator("button.rollback").click()
        _eventually(lambda: _mode(page, "products") == "monolith")
        actions = page.locator("#history tbody td.action").all_inner_texts()
        assert actions[:4] == ["rollback", "promote", "promote", "promote"]
    finally:
        page.close()


def test_ten_wrong_tokens_lock_the_address_out_of_the_api_and_the_login(proxy):
    with proxy.admin("wrong-token-1") as wrong:
        for _ in range(5):
            assert wrong.get("/api/routes").status_code == 401
    for _ in range(5):
        resp = httpx.post(f"{proxy.admin_url}/dashboard/login", json={"token": "guess-guess"})
        assert resp.status_code == 401
    with proxy.admin() as right:  # even the right token waits now
        locked = right.get("/api/routes")
    assert locked.status_code == 429 and locked.json()["error"] == "too_many_attempts"
    assert 1 <= int(locked.headers["retry-after"]) <= 60
    login = httpx.post(f"{proxy.admin_url}/dashboard/login", json={"token": ADMIN_SECRET})
    assert login.status_code == 429
    assert httpx.get(f"{proxy.admin_url}/healthz").status_code == 200  # no token, no lock

"""Differential tests: the same raw requests through nginx and through `figkit proxy serve`.

Black box: each proxy sits in front of its own recording upstream (recording_upstream.py),
and every case of the corpus is sent as raw bytes to both. What the upstream received
(method, target, headers, body, trailers) and what the client got (status, headers, body)
must be the same, or the difference must be one of EXPLAINED, each of which is written
up in docs/proxy.md under "Where figkit differs from nginx". Anything else is a figkit bug.

nginx is configured as a careful operator puts it in front of Django (nginx.py).
"""

from __future__ import annotations

import difflib
import hashlib
import os
import pprint
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.strangler_proxy import nginx as nginx_oracle
from tests.strangler_proxy.recording_upstream import BIG_BODY, Recorded, RecordingUpstream

FIGKIT = str(Path(sys.executable).with_name("figkit"))
TOKEN_ENV = "FIGKIT_TEST_DIFF_TOKEN"
HOST = b"shop.example"
MB100 = 100 * 1000 * 1000
DOCS = Path(__file__).resolve().parents[2] / "docs" / "proxy.md"
DOCS_SECTION = "## Where figkit differs from nginx"

# Differences that are by design, one line each; every key is explained in DOCS_SECTION.
# A figkit bug never goes here: it fails until it is fixed.
EXPLAINED: dict[str, str] = {
    "tracing-headers": "figkit adds X-Request-ID and traceparent (left out of every other comparison)",
    "host-with-port": "figkit sends the client's Host as it came; nginx's $host drops the port",
    "host-uppercase": "figkit sends the client's Host as it came; nginx's $host lower-cases it",
    "double-slash": "figkit does not merge slashes (neither RFC 3986 nor Django does); nginx does",
    "pct-encoded-slash": "figkit keeps %2F encoded (decoding it would make new segments); nginx decodes it",
    "dot-segments-above-root": "figkit drops `..` above the root (RFC 3986 5.2.4); nginx answers 400",
    "raw-non-ascii": "figkit refuses raw non-ASCII bytes in the target (400); nginx forwards them raw",
    "connection-custom-token": "figkit removes the headers Connection names (RFC 9110 7.6.1); nginx keeps them",
    "trailer-header": "figkit removes the hop-by-hop Trailer request header; nginx forwards it",
    "proxy-connection": "figkit removes Proxy-* request headers; nginx forwards Proxy-Connection",
    "response-hop-by-hop": "figkit removes every hop-by-hop response header; nginx keeps Upgrade, Proxy-Connection and those Connection names",
    "chunked-response": "figkit removes the Trailer response header (neither proxy forwards trailers); nginx keeps it",
    "upgrade-without-101": "figkit forwards Upgrade (it splices upgraded connections) and closes when the upstream declines; nginx drops Upgrade",
}

# Headers that legitimately differ on every request, left out of the comparison. The
# upstream request's framing (Content-Length or chunked) is the proxy's choice, hop by hop:
# its body and trailers are compared instead.
UPSTREAM_IGNORED = {b"x-request-id", b"traceparent", b"via"}
UPSTREAM_FRAMING = {b"content-length", b"transfer-encoding"}
CLIENT_IGNORED = {b"date", b"server", b"x-request-id", b"x-recorded"}


# -- the client side: raw bytes out, responses read with bounded waits --------------------


@dataclass
class Body:
    length: int = 0
    prefix: bytes = b""
    sha: hashlib._Hash = field(default_factory=hashlib.sha256)

    def add(self, data: bytes | memoryview) -> None:
        if self.length <= BIG_BODY:
            self.prefix += bytes(data[: BIG_BODY + 1 - self.length])
        self.length += len(data)
        self.sha.update(data)

    def value(self) -> bytes | str:
        if self.length <= BIG_BODY:
            return self.prefix
        return f"{self.length} bytes sha256={self.sha.hexdigest()}"


@dataclass
class Response:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes | str
    trailers: list[tuple[bytes, bytes]]
    interim: list[int]

    def header(self, name: bytes) -> bytes | None:
        return next((v for k, v in self.headers if k.lower() == name), None)


class Wire:
    """One client connection: sendall with a timeout, and a careful HTTP/1.1 response reader."""

    def __init__(self, port: int, timeout: float) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> None:
        data = self.sock.recv(256 * 1024)
        if not data:
            raise EOFError("the proxy closed the connection")
        self.buf += data

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            if len(self.buf) > 65536:
                raise ValueError("a line longer than 64 KiB")
            self._fill()
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def _fields(self) -> list[tuple[bytes, bytes]]:
        fields = []
        while line := self._line():
            name, _, value = line.partition(b":")
            fields.append((name, value.strip(b" \t")))
        return fields

    def _exactly(self, n: int, body: Body) -> None:
        while n:
            if not self.buf:
                self._fill()
            take = self.buf[:n]
            self.buf = self.buf[len(take) :]
            body.add(take)
            n -= len(take)

    def read_response(self, method: bytes, interim_only: bool = False) -> Response:
        interim: list[int] = []
        while True:
            status_line = self._line()
            parts = status_line.split(b" ", 2)
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
                raise ValueError(f"not a status line: {status_line!r}")
            status = int(parts[1])
            headers = self._fields()
            if 100 <= status < 200 and status != 101:
                interim.append(status)
                if interim_only:
                    return Response(status, headers, b"", [], interim)
                continue
            break
        body, trailers = Body(), []
        te = next((v for k, v in headers if k.lower() == b"transfer-encoding"), None)
        cl = next((v for k, v in headers if k.lower() == b"content-length"), None)
        if method == b"HEAD" or status in (204, 304):
            pass
        elif te is not None and te.lower().endswith(b"chunked"):
            while True:
                size = int(self._line().split(b";")[0].strip(), 16)
                if size == 0:
                    trailers = self._fields()
                    break
                self._exactly(size, body)
                if self._line() != b"":
                    raise ValueError("a chunk not followed by CRLF")
        elif cl is not None:
            self._exactly(int(cl), body)
        else:
            try:
                while True:
                    self._fill()
                    body.add(self.buf)
                    self.buf = b""
            except EOFError:
                pass
        return Response(status, headers, body.value(), trailers, interim)

    def closed_soon(self, seconds: float) -> bool:
        """Whether the proxy closes the connection within seconds (and sends nothing more)."""
        self.sock.settimeout(seconds)
        try:
            return self.sock.recv(1) == b""
        except TimeoutError:
            return False
        except ConnectionError:
            return True


# -- the corpus ---------------------------------------------------------------------------


def request(
    method: bytes,
    target: bytes,
    headers: list[tuple[bytes, bytes]] = (),  # type: ignore[assignment]
    body: bytes | None = None,
    host: bytes | None = HOST,
    version: bytes = b"HTTP/1.1",
) -> bytes:
    lines = [method + b" " + target + b" " + version]
    if host is not None:
        lines.append(b"Host: " + host)
    lines += [k + b": " + v for k, v in headers]
    if body is not None and not any(k.lower() == b"transfer-encoding" for k, _ in headers):
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")


@dataclass(frozen=True)
class Case:
    id: str
    data: bytes  # written in one go: several requests here are pipelined
    methods: tuple[bytes, ...] = (b"GET",)  # one per expected response, for framing HEAD
    stream: Callable[[], Iterator[bytes]] | None = None  # a body sent after data
    expect_continue: bool = False  # wait (bounded) for a 100 before sending `stream`
    check_close: bool = False  # also observe whether the proxy closes the connection
    timeout: float = 4.0


def _big_body() -> Iterator[bytes]:
    block = hashlib.sha256(b"seed").digest() * 32768  # 1 MiB
    left = MB100
    while left:
        piece = block[: min(left, len(block))]
        yield piece
        left -= len(piece)


def _five() -> Iterator[bytes]:
    yield b"hello"


JSON = [(b"Content-Type", b"application/json")]
CHUNKED_BODY = (
    b"5;name=value\r\nhello\r\n7;ext\r\n, world\r\n0\r\nX-Trailer-One: t1\r\nX-Checksum: 99\r\n\r\n"
)

CORPUS = [
    # ordinary requests
    Case("get-plain", request(b"GET", b"/plain?q=1&b=%20x")),
    Case(
        "post-json",
        request(b"POST", b"/r/echo", JSON, b'{"name": "chair", "price": 12}'),
        (b"POST",),
    ),
    Case("put-body", request(b"PUT", b"/r/echo/7", JSON, b'{"price": 13}'), (b"PUT",)),
    Case("delete", request(b"DELETE", b"/items/1"), (b"DELETE",)),
    Case("body-0-bytes", request(b"POST", b"/r/echo", [], b""), (b"POST",)),
    Case("body-1-byte", request(b"POST", b"/r/echo", [], b"x"), (b"POST",)),
    Case("method-custom", request(b"PURGE", b"/cache/x"), (b"PURGE",)),
    Case("method-lowercase", request(b"get", b"/gm/x"), (b"get",)),
    # paths: the normalised path is what the upstream gets
    Case("dot-segments", request(b"GET", b"/a/./b/../c")),
    Case("dot-segments-encoded", request(b"GET", b"/api/catalog/%2e%2e/%2e%2e/admin/")),
    Case("dot-segments-above-root", request(b"GET", b"/../../etc/passwd")),
    Case("pct-encoded-slash", request(b"GET", b"/a%2Fb/c")),
    Case("pct-encoded-nul", request(b"GET", b"/a%00b")),
    Case("pct-invalid-utf8", request(b"GET", b"/a%ffb")),
    Case("pct-utf8", request(b"GET", b"/caf%C3%A9")),
    Case("pct-unreserved", request(b"GET", b"/%7Euser/%41")),
    Case("raw-non-ascii", request(b"GET", "/café".encode())),
    Case("double-slash", request(b"GET", b"//double//path")),
    Case("semicolon-params", request(b"GET", b"/a;p=1/b;q=2")),
    Case("query-untouched", request(b"GET", b"/a/../b?x=../y&z=%2F&w=%ff")),
    # Host and spoofed origin headers (the client is untrusted)
    Case(
        "absolute-form-target",
        request(b"GET", b"http://shop.example/abs?x=1", host=b"other.example"),
    ),
    Case("host-with-port", request(b"GET", b"/h", host=b"shop.example:8443")),
    Case("host-uppercase", request(b"GET", b"/h", host=b"SHOP.Example")),
    Case("host-missing", request(b"GET", b"/h", host=None), check_close=True),
    Case("host-twice", request(b"GET", b"/h", [(b"Host", b"evil.example")]), check_close=True),
    Case(
        "spoof-x-forwarded",
        request(
            b"GET",
            b"/s",
            [
                (b"X-Forwarded-For", b"1.2.3.4"),
                (b"X-Forwarded-Proto", b"https"),
                (b"X-Forwarded-Host", b"evil.example"),
            ],
        ),
    ),  # fmt: skip
    Case(
        "spoof-x-forwarded-port-prefix",
        request(b"GET", b"/s", [(b"X-Forwarded-Port", b"443"), (b"X-Forwarded-Prefix", b"/admin")]),
    ),  # fmt: skip
    Case("spoof-x-real-ip", request(b"GET", b"/s", [(b"X-Real-IP", b"1.2.3.4")])),
    Case("spoof-true-client-ip", request(b"GET", b"/s", [(b"True-Client-IP", b"1.2.3.4")])),
    Case(
        "spoof-x-forwarded-for-underscore",
        request(
            b"GET", b"/s", [(b"X_Forwarded_For", b"1.2.3.4"), (b"X_Forwarded_Proto", b"https")]
        ),
    ),  # fmt: skip
    Case("spoof-forwarded", request(b"GET", b"/s", [(b"Forwarded", b"for=1.2.3.4;proto=https")])),
    # hop-by-hop headers
    Case("connection-close", request(b"GET", b"/c", [(b"Connection", b"close")]), check_close=True),
    Case(
        "connection-keep-alive",
        request(b"GET", b"/c", [(b"Connection", b"keep-alive"), (b"Keep-Alive", b"timeout=5")]),
    ),  # fmt: skip
    Case(
        "connection-custom-token",
        request(
            b"GET", b"/c", [(b"Connection", b"x-custom"), (b"X-Custom", b"1"), (b"X-Other", b"2")]
        ),
    ),  # fmt: skip
    Case("connection-names-host", request(b"GET", b"/c", [(b"Connection", b"host")])),
    Case("te-trailers", request(b"GET", b"/c", [(b"TE", b"trailers")])),
    Case("trailer-header", request(b"GET", b"/c", [(b"Trailer", b"X-Foo")])),
    Case(
        "upgrade-without-101",
        request(b"GET", b"/c", [(b"Connection", b"Upgrade"), (b"Upgrade", b"h2c")]),
    ),  # fmt: skip
    Case("proxy-connection", request(b"GET", b"/c", [(b"Proxy-Connection", b"keep-alive")])),
    Case("response-hop-by-hop", request(b"GET", b"/r/hop")),
    Case(
        "duplicate-headers-kept",
        request(
            b"GET",
            b"/d",
            [
                (b"Cookie", b"a=1"),
                (b"Accept", b"text/html"),
                (b"Cookie", b"b=2"),
                (b"X-Many", b"1"),
                (b"X-Many", b"2"),
            ],
        ),
    ),  # fmt: skip
    Case("header-name-with-underscore", request(b"GET", b"/d", [(b"X_Under", b"1")])),
    Case("header-value-latin1", request(b"GET", b"/d", [(b"X-Latin", "café".encode("latin-1"))])),
    # chunked
    Case(
        "chunked-body-extensions-trailers",
        request(b"POST", b"/r/echo", [(b"Transfer-Encoding", b"chunked")]) + CHUNKED_BODY,
        (b"POST",),
    ),  # fmt: skip
    Case("chunked-response", request(b"GET", b"/r/chunked")),
    Case("response-close-delimited", request(b"GET", b"/r/close-delimited")),
    # framing a careful proxy refuses (400, then close): request smuggling's raw material
    Case(
        "content-length-and-chunked",
        request(
            b"POST", b"/r/echo", [(b"Content-Length", b"3"), (b"Transfer-Encoding", b"chunked")]
        )
        + b"0\r\n\r\n",
        (b"POST",),
        check_close=True,
    ),  # fmt: skip
    Case(
        "content-length-twice",
        request(b"POST", b"/r/echo", [(b"Content-Length", b"3"), (b"Content-Length", b"3")])
        + b"abc",
        (b"POST",),
        check_close=True,
    ),  # fmt: skip
    Case("obs-fold", request(b"GET", b"/f", [(b"X-Folded", b"a\r\n b")]), check_close=True),
    # HEAD, 304, 204
    Case("head", request(b"HEAD", b"/r/head"), (b"HEAD",)),
    Case("head-big", request(b"HEAD", b"/r/big?n=100000"), (b"HEAD",)),
    Case("status-304", request(b"GET", b"/r/status/304", [(b"If-None-Match", b'"v1"')])),
    Case("status-204", request(b"DELETE", b"/r/status/204"), (b"DELETE",)),
    Case("status-404", request(b"GET", b"/r/status/404")),
    # 100-continue: the client waits for the 100; the upstream waits for the body
    Case(
        "expect-100-upstream-waits-for-body",
        request(
            b"POST",
            b"/r/echo/expect-waits",
            [(b"Expect", b"100-continue"), (b"Content-Length", b"5")],
        ),
        (b"POST",),
        stream=_five,
        expect_continue=True,
    ),  # fmt: skip
    Case(
        "expect-100-upstream-sends-100",
        request(
            b"POST", b"/r/expect-100", [(b"Expect", b"100-continue"), (b"Content-Length", b"5")]
        ),
        (b"POST",),
        stream=_five,
        expect_continue=True,
    ),  # fmt: skip
    # pipelining: responses in order, each matching its request
    Case(
        "pipelined",
        request(b"GET", b"/r/echo/1")
        + request(b"POST", b"/r/echo/2", [], b"two")
        + request(b"HEAD", b"/r/head/3")
        + request(b"GET", b"/r/status/404")
        + request(b"GET", b"/r/echo/5"),
        (b"GET", b"POST", b"HEAD", b"GET", b"GET"),
    ),  # fmt: skip
    Case(
        "pipelined-behind-connection-close",
        request(b"GET", b"/r/echo/1", [(b"Connection", b"close")]) + request(b"GET", b"/r/echo/2"),
        check_close=True,
    ),  # fmt: skip
    # 100 MB each way, streamed and hashed as they go
    Case(
        "body-100mb-up",
        request(b"POST", b"/r/echo", [(b"Content-Length", b"%d" % MB100)]),
        (b"POST",),
        stream=_big_body,
        timeout=20,
    ),  # fmt: skip
    Case("body-100mb-down", request(b"GET", b"/r/big?n=%d" % MB100), timeout=20),
]


# -- running a case and comparing ------------------------------------------------------------


@dataclass
class Observed:
    upstream: list[dict]
    client: list[dict]
    client_error: str
    closed: bool | None
    raw_extra: list[tuple[bytes, bytes]]  # upstream headers the comparison leaves out


def _sorted_fields(
    fields: list[tuple[bytes, bytes]], ignored: set[bytes]
) -> list[tuple[bytes, bytes]]:
    """Names lower-cased, grouped by name (relative order of one name's fields kept)."""
    kept = [(k.lower(), v) for k, v in fields if k.lower() not in ignored]
    return sorted(kept, key=lambda kv: kv[0])


def _target(target: bytes) -> bytes:
    """Percent-encodings in upper case (RFC 3986 6.2.2.1: %2f and %2F are the same)."""
    return re.sub(rb"%[0-9a-fA-F]{2}", lambda m: m.group().upper(), target)


def upstream_view(record: Recorded) -> dict:
    view = {
        "method": record.method,
        "target": _target(record.target),
        "version": record.http_version,
        "headers": _sorted_fields(record.headers, UPSTREAM_IGNORED | UPSTREAM_FRAMING),
        "body": record.body(),
        "trailers": _sorted_fields(record.trailers, set()),
        "complete": record.complete,
    }
    if record.error:
        view["error"] = record.error
        view["raw_head"] = record.raw_head
    return view


def client_view(response: Response) -> dict:
    """What the client got; `Connection: keep-alive` is HTTP/1.1's default, so it is left out."""
    if response.header(b"x-recorded") is None:
        # the proxy answered itself: its error page is its own, the status is what counts
        return {"status": response.status, "from": "proxy", "interim": response.interim}
    return {
        "status": response.status,
        "from": "upstream",
        "interim": response.interim,
        "headers": [
            kv
            for kv in _sorted_fields(response.headers, CLIENT_IGNORED)
            if kv != (b"connection", b"keep-alive")
        ],
        "body": response.body,
        "trailers": _sorted_fields(response.trailers, set()),
    }


def run(case: Case, port: int, upstream: RecordingUpstream) -> Observed:
    upstream.take()
    responses: list[Response] = []
    error, closed = "", None
    deadline = time.monotonic() + case.timeout
    wire = Wire(port, case.timeout)
    try:
        wire.send(case.data)
        if case.expect_continue:
            try:
                wire.sock.settimeout(2.0)
                first = wire.read_response(case.methods[0], interim_only=True)
                if first.status >= 200:
                    responses.append(first)
                    error = "final response before the body was sent"
            except TimeoutError:
                error = "no 100 Continue within 2 s (body sent anyway)"
            wire.sock.settimeout(case.timeout)
        if case.stream is not None and not responses:
            for chunk in case.stream():
                if time.monotonic() > deadline:
                    raise TimeoutError
                wire.send(chunk)
        for method in case.methods[len(responses) :]:
            wire.sock.settimeout(max(0.1, deadline - time.monotonic()))
            response = wire.read_response(method)
            if case.expect_continue and not error:
                response.interim = [100, *response.interim]
            responses.append(response)
        if case.check_close:
            closed = wire.closed_soon(0.5)
    except TimeoutError:
        error = (error + "; " if error else "") + f"no complete response within {case.timeout} s"
    except (EOFError, ConnectionError) as exc:
        error = (error + "; " if error else "") + f"connection ended: {exc}"
        closed = True
    except ValueError as exc:
        error = (error + "; " if error else "") + f"unreadable response: {exc}"
    finally:
        wire.close()
    records = upstream.take()
    settle = time.monotonic() + 0.2
    while any(not r.complete for r in records) and time.monotonic() < settle:
        time.sleep(0.02)
    records += upstream.take()
    extra = [(k, v) for r in records for k, v in r.headers if k.lower() in UPSTREAM_IGNORED]
    return Observed(
        [upstream_view(r) for r in records],
        [client_view(r) for r in responses],
        error,
        closed,
        extra,
    )


def comparable(observed: Observed) -> dict:
    return {
        "upstream received": observed.upstream,
        "client got": observed.client,
        "client error": observed.client_error,
        "connection closed": observed.closed,
    }


def difference(nginx: Observed, figkit: Observed) -> str:
    """'' when the two are the same, else a readable unified diff (nginx -> figkit)."""
    a, b = comparable(nginx), comparable(figkit)
    if a == b:
        return ""
    left = pprint.pformat(a, width=100).splitlines()
    right = pprint.pformat(b, width=100).splitlines()
    return "\n".join(difflib.unified_diff(left, right, "nginx", "figkit", lineterm="", n=2))


# -- the rig: a recording upstream, nginx and figkit for the whole module -----------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Rig:
    nginx_port: int
    figkit_port: int
    nginx_upstream: RecordingUpstream
    figkit_upstream: RecordingUpstream

    def both(self, case: Case) -> tuple[Observed, Observed]:
        return (
            run(case, self.nginx_port, self.nginx_upstream),
            run(case, self.figkit_port, self.figkit_upstream),
        )


def _start_figkit(directory: Path, upstream: RecordingUpstream) -> tuple[subprocess.Popen, int]:
    directory.mkdir()
    port, admin = _free_port(), _free_port()
    (directory / "proxy.toml").write_text(
        "\n".join(
            [
                "[proxy]",
                f'listen = "127.0.0.1:{port}"',
                f'admin_listen = "127.0.0.1:{admin}"',
                f'store = "sqlite:///{directory}/routes.db"',
                "workers = 1",
                "[upstreams.monolith]",
                f'urls = ["{upstream.url}"]',
                "read_timeout = 10.0",
                "[[tokens]]",
                'name = "ops"',
                f'secret_env = "{TOKEN_ENV}"',
                'scope = "admin"',
            ]
        )
        + "\n"
    )
    proc = subprocess.Popen(
        [FIGKIT, "proxy", "serve", "--config", str(directory / "proxy.toml")],
        env={**os.environ, TOKEN_ENV: "differential-test-token"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"figkit proxy serve exited: {proc.stderr.read() if proc.stderr else ''}"
            )
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port
        time.sleep(0.1)
    _stop(proc)
    raise AssertionError(f"figkit proxy serve did not listen on 127.0.0.1:{port} within 20 s")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


@pytest.fixture(scope="module")
def rig(tmp_path_factory) -> Iterator[Rig]:
    nginx_oracle.binary()  # skips, or fails under CI=true, before anything starts
    base = tmp_path_factory.mktemp("differential")
    up_n, up_f = RecordingUpstream().start(), RecordingUpstream().start()
    nginx = figkit = None
    try:
        nginx = nginx_oracle.start(base / "nginx", _free_port(), up_n.port)
        figkit, figkit_port = _start_figkit(base / "figkit", up_f)
        yield Rig(nginx.port, figkit_port, up_n, up_f)
    finally:
        if figkit is not None:
            _stop(figkit)
        if nginx is not None:
            nginx.stop()
        up_n.stop()
        up_f.stop()


# -- the tests ------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CORPUS, ids=[c.id for c in CORPUS])
def test_figkit_forwards_and_answers_as_nginx_does(rig, case):
    nginx, figkit = rig.both(case)
    diff = difference(nginx, figkit)
    if case.id in EXPLAINED:
        assert diff, (
            f"{case.id} no longer differs from nginx: remove it from EXPLAINED and the docs"
        )
        return
    if diff:
        pytest.fail(
            f"figkit differs from nginx on {case.id!r} (neither fixed nor explained):\n{diff}",
            pytrace=False,
        )


def test_figkit_adds_its_tracing_headers_where_nginx_adds_none(rig):
    """The one difference every request has: the case ids in EXPLAINED that are not cases."""
    nginx, figkit = rig.both(Case("tracing-headers", request(b"GET", b"/trace")))
    names = lambda o: {k.lower() for k, _ in o.raw_extra}  # noqa: E731
    assert names(nginx) == set(), "nginx sent a tracing header: is its config still the oracle's?"
    assert {b"x-request-id", b"traceparent"} <= names(figkit), (
        "figkit no longer adds its tracing headers"
    )


def test_every_explained_difference_is_in_the_docs():
    text = DOCS.read_text()
    assert DOCS_SECTION in text, f"docs/proxy.md has no {DOCS_SECTION!r} section"
    section = text.split(DOCS_SECTION, 1)[1].split("\n## ", 1)[0]
    missing = [key for key in EXPLAINED if f"`{key}`" not in section]
    assert not missing, f"explained here but not in docs/proxy.md {DOCS_SECTION!r}: {missing}"
    known = {c.id for c in CORPUS} | {"tracing-headers"}
    assert set(EXPLAINED) <= known, (
        f"EXPLAINED names cases that do not exist: {set(EXPLAINED) - known}"
    )

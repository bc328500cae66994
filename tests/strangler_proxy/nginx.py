"""nginx as the oracle of the differential tests: configured as a careful operator would
put it in front of Django, started as a subprocess in a directory of its own.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import services

# Why `proxy_pass http://up/;` (with a URI part) and not `proxy_pass http://up;`:
# without a URI part nginx forwards the request target exactly as the client sent it
# (`/a/./b/../c`, `/x/%2e%2e/y`), while routing it on the normalised path, so the upstream
# can see a path other than the one that was routed. With a URI part nginx replaces the
# matched location (`/`) in the *normalised* URI (percent-decoded, dot segments removed,
# slashes merged) and forwards that, re-escaped. That is figkit's documented rule, "the
# proxy matches and forwards the normalised path" (docs/proxy.md), so it is the right oracle.
CONFIG = """
worker_processes 1;
{user}
error_log {dir}/error.log info;
pid {dir}/nginx.pid;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fcgi; uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
  upstream up {{ server 127.0.0.1:{upstream}; keepalive 16; }}
  server {{
    listen 127.0.0.1:{port};
    server_name _;
    client_max_body_size 0;
    location / {{
      proxy_pass http://up/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      # the client is untrusted (figkit's default, trusted_proxies = []): replace, never append
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $host;
      # nor believe any other header that claims where the request came from
      proxy_set_header X-Forwarded-Port "";
      proxy_set_header X-Forwarded-Prefix "";
      proxy_set_header X-Real-IP "";
      proxy_set_header True-Client-IP "";
      proxy_set_header Forwarded "";
      proxy_request_buffering off;
      proxy_buffering off;
      proxy_read_timeout 10s;
      proxy_send_timeout 10s;
    }}
  }}
}}
"""


def binary() -> str:
    """nginx's path, or skip (fail under CI=true) when it is not installed."""
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.path.exists(p)), None
    )
    if found:
        return found
    reason = (
        "nginx is not installed (apt-get install nginx-light); it is the differential tests' oracle"
    )
    if services.under_ci():
        pytest.fail(f"{reason} (CI=true: these tests may not skip)", pytrace=False)
    pytest.skip(reason)


@dataclass
class Nginx:
    port: int
    directory: Path
    process: subprocess.Popen

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)

    def error_log(self) -> str:
        path = self.directory / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""


def start(directory: Path, port: int, upstream_port: int) -> Nginx:
    """Run nginx in the foreground (its own process group) until stop()."""
    nginx = binary()
    directory.mkdir(parents=True, exist_ok=True)
    # nginx's worker drops root to nobody, which could not write its own temp paths here
    user = "user root;" if os.geteuid() == 0 else ""
    conf = directory / "nginx.conf"
    conf.write_text(CONFIG.format(dir=directory, port=port, upstream=upstream_port, user=user))
    process = subprocess.Popen(
        [nginx, "-p", str(directory), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    running = Nginx(port, directory, process)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise AssertionError(f"nginx exited at start: {err} {running.error_log()}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return running
        time.sleep(0.05)
    running.stop()
    raise AssertionError(f"nginx did not listen on 127.0.0.1:{port} within 10 s")

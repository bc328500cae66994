"""1 GB through `figkit proxy serve` each way, with the proxy's memory sampled while it streams.

    .venv/bin/python bench/proxy_large_body_bench.py [--gib 1] [--no-write]

The upstream is the proxy tests' own small ASGI app under uvicorn on 127.0.0.1 (it streams
N bytes, and reads an upload as it comes); curl downloads to /dev/null and uploads from a
generator through the proxy. The peak resident memory of the proxy's processes is sampled
from /proc every 20 ms. Bounded: each transfer has a time limit.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))
from results_file import machine, write_section  # noqa: E402

from bench.proxy_bench import free_port, wait_port  # noqa: E402

UPSTREAM = """
import sys
sys.path.insert(0, {root!r})
import uvicorn
from tests.strangler_proxy.upstream_app import make_app
uvicorn.run(make_app("upstream"), host="127.0.0.1", port={port}, log_level="warning")
"""


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            with open(f"/proc/{current}/task/{current}/children") as f:
                todo.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return total


class Sampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    size = int(args.gib * 2**30)
    tmp = Path(tempfile.mkdtemp(prefix="figkit-large-body-"))
    up_port, port, admin = free_port(), free_port(), free_port()
    upstream = subprocess.Popen(
        [sys.executable, "-c", UPSTREAM.format(root=str(ROOT), port=up_port)],
        start_new_session=True,
    )
    (tmp / "proxy.toml").write_text(
        f'[proxy]\nlisten = "127.0.0.1:{port}"\nadmin_listen = "127.0.0.1:{admin}"\nstore = "sqlite:///{tmp}/routes.db"\n'
        f'[upstreams.monolith]\nurls = ["http://127.0.0.1:{up_port}"]\nread_timeout = 60\n'
        '[[tokens]]\nname = "bench"\nsecret_env = "FIGKIT_ADMIN_TOKEN"\nscope = "admin"\n'
    )
    env = {**os.environ, "FIGKIT_ADMIN_TOKEN": "bench-token-not-secret"}
    proxy = subprocess.Popen([str(ROOT / ".venv" / "bin" / "figkit"), "proxy", "serve", "--config", str(tmp / "proxy.toml")],
                             env=env, start_new_session=True)  # fmt: skip
    rows = []
    try:
        wait_port(up_port)
        wait_port(port)
        time.sleep(1)
        idle = tree_rss(proxy.pid)
        for direction, command in (
            ("download", ["curl", "-sS", "-o", "/dev/null", "-w", "%{size_download} %{time_total}", f"http://127.0.0.1:{port}/bytes?n={size}"]),
            ("upload", ["curl", "-sS", "-o", "/dev/null", "-w", "%{size_upload} %{time_total}", "-X", "POST", "-T", "-", f"http://127.0.0.1:{port}/upload"]),
        ):  # fmt: skip
            sampler = Sampler(proxy.pid)
            sampler.start()
            feed = None
            if direction == "upload":
                feed = subprocess.Popen(
                    ["head", "-c", str(size), "/dev/zero"], stdout=subprocess.PIPE
                )
            done = subprocess.run(
                command,
                stdin=feed.stdout if feed else None,
                capture_output=True,
                text=True,
                timeout=300,
                check=True,
            )
            sampler.stop.set()
            sampler.join()
            moved, seconds = done.stdout.split()
            rows.append((direction, int(float(moved)), float(seconds), sampler.peak))
            print(direction, moved, seconds, f"peak {sampler.peak / 2**20:.0f} MiB", flush=True)
    finally:
        for p in (proxy, upstream):
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(20)
    table = "\n".join(
        f"| {d} | {moved / 2**30:.2f} GiB | {s:.1f} | {moved / s / 2**20:,.0f} MiB/s | {idle / 2**20:.0f} MiB | {peak / 2**20:.0f} MiB |"
        for d, moved, s, peak in rows
    )
    section = f"""## Strangler proxy: large bodies

`.venv/bin/python bench/proxy_large_body_bench.py --gib {args.gib:g}` on {machine()}.
curl through `figkit proxy serve` (one worker, plus its admin process) to the tests' upstream app
under uvicorn, all on 127.0.0.1. Memory: resident size of the proxy's whole process tree, sampled
every 20 ms; idle is before the transfer.

| direction | moved | seconds | rate | proxy idle | proxy peak |
|---|---|---|---|---|---|
{table}

The peak does not follow the body's size: the proxy streams both ways and holds at most a
few chunks per request.
"""
    print(section)
    if not args.no_write:
        write_section("## Strangler proxy: large bodies", section)


if __name__ == "__main__":
    main()

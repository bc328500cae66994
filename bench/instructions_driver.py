"""One figkit worker and its clients in one process, for counting instructions per request.

    python bench/instructions_driver.py PROXY_TOML PATH N COOKIE

Run under `valgrind --tool=callgrind` by bench/behaviours_bench.py: it starts a data-path
worker (strangler_proxy.datapath.Worker) on a free port, sends N GET requests for PATH over
8 keep-alive connections (the client's work is the same for every route, so it cancels
out between runs), waits until the shadow mirror (if any) is idle, and stops. Two runs with
different N give the instructions one request costs: the difference of their totals
divided by the difference of N, free of start-up and shutdown.
"""

from __future__ import annotations

import asyncio
import sys

import uvloop

from strangler_proxy.config import load_config
from strangler_proxy.datapath import Worker, listening_socket

CONNECTIONS = 8


async def client(port: int, path: str, count: int, cookie: str) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = (
        f"GET {path} HTTP/1.1\r\nHost: bench\r\nCookie: figkit_canary={cookie}\r\n\r\n"
    ).encode()
    for _ in range(count):
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        if not head.startswith(b"HTTP/1.1 200"):
            raise SystemExit(f"the proxy answered {head[:100]!r}")
        await reader.readexactly(length)
    writer.close()


async def main(config_path: str, path: str, n: int, cookie: str) -> None:
    config = load_config(config_path)
    worker = Worker(config)
    sock = listening_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    await worker.start([sock])
    share = [n // CONNECTIONS + (1 if i < n % CONNECTIONS else 0) for i in range(CONNECTIONS)]
    await asyncio.gather(*(client(port, path, k, cookie) for k in share))
    queue = worker.mirror.queue
    if queue is not None:
        await asyncio.wait_for(queue.join(), 600)  # every mirror sent and compared
    await worker.stop(0.5)


if __name__ == "__main__":
    uvloop.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]))

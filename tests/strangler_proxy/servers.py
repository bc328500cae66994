"""Real uvicorn servers on loopback for the proxy's tests, each in its own thread."""

from __future__ import annotations

import asyncio
import gc
import socket
import threading
import time
from dataclasses import dataclass

import uvicorn


@dataclass
class Running:
    url: str
    port: int
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(app, port: int | None = None, **options) -> Running:
    """Serve an ASGI app on 127.0.0.1 until stop(); returns once it accepts connections."""
    # IPPROTO_TCP named, not 0: asyncio sets TCP_NODELAY only on sockets that say so, and
    # without it every response written in two parts waits 40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port or 0))
    port = sock.getsockname()[1]
    settings = {"log_level": "warning", "loop": "uvloop", "http": "httptools", "lifespan": "auto"}
    config = uvicorn.Config(app, **{**settings, **options})
    server = uvicorn.Server(config)

    def run() -> None:
        asyncio.run(server.serve(sockets=[sock]))

    thread = threading.Thread(target=run, daemon=True, name=f"uvicorn-{port}")
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"test server on port {port} did not start")
        time.sleep(0.01)
    return Running(f"http://127.0.0.1:{port}", port, server, thread)


@dataclass
class RunningWorker:
    """A figkit data-path worker serving on loopback in its own thread and event loop."""

    url: str
    port: int
    worker: object
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread

    def stop(self, drain: float = 2.0) -> None:
        future = asyncio.run_coroutine_threadsafe(self.worker.stop(drain), self.loop)  # type: ignore[attr-defined]
        future.result(drain + 10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def start_worker(config, port: int | None = None) -> RunningWorker:
    """Run the proxy's data path (strangler_proxy.datapath.Worker) for `config` on 127.0.0.1."""
    import uvloop

    from strangler_proxy.datapath import Worker, listening_socket

    sock = listening_socket("127.0.0.1", port or 0, reuse_port=False)
    port = sock.getsockname()[1]
    worker = Worker(config)
    loop = uvloop.new_event_loop()
    started = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(worker.start([sock]))
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            failure.append(exc)
            started.set()
            return
        started.set()
        loop.run_forever()
        # Close the loop in its own thread: uvloop handles freed from another thread after
        # the loop stopped can crash the process.
        for _ in range(3):
            loop.run_until_complete(asyncio.sleep(0))
        loop.close()
        gc.collect()  # whatever cycles hold this loop's handles are freed here, in its thread

    thread = threading.Thread(target=run, daemon=True, name=f"figkit-worker-{port}")
    thread.start()
    if not started.wait(10) or failure:
        raise RuntimeError(f"proxy worker on port {port} did not start: {failure}")
    return RunningWorker(f"http://127.0.0.1:{port}", port, worker, loop, thread)

"""A keep-alive HTTP/1.1 upstream that answers every request with a file's bytes after a delay.

    python bench/slow_upstream.py PORT FILE DELAY_MS

The shadow bench's service: the same JSON as the monolith (nginx), 50 ms later. asyncio on
uvloop, one process; it reads a request head (and a Content-Length body), waits, answers.
"""

from __future__ import annotations

import asyncio
import sys

import uvloop


def main() -> None:
    port, path, delay_ms = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    body = open(path, "rb").read()  # noqa: SIM115
    response = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
        % len(body)
        + body
    )

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if length:
                    await reader.readexactly(length)
                await asyncio.sleep(delay_ms / 1000)
                writer.write(response)
                await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    async def run() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", port, backlog=1024)
        async with server:
            await server.serve_forever()

    uvloop.run(run())


if __name__ == "__main__":
    main()

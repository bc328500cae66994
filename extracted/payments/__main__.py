"""`python -m extracted.payments`: migrate the service's database, then serve it with uvicorn."""

from __future__ import annotations

import argparse
import os
import sys

from extracted.seam.serving import migrate, port_free


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m extracted.payments", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PAYMENTS_PORT", "8300")))
    args = parser.parse_args(argv)

    if not port_free(args.host, args.port):
        print(
            f"payments: {args.host}:{args.port} is already in use; "
            "stop what runs there or pass --port <free port> (or PAYMENTS_PORT)",
            file=sys.stderr,
        )
        return 2

    database = migrate("extracted.payments.settings")
    base = f"http://{args.host}:{args.port}"
    print(
        "\n".join(
            [
                f"Payments service running at {base}/",
                f"  JSON API:  {base}/api/payments/authorise (POST, with an Idempotency-Key)",
                f"  OpenAPI:   {base}/api/docs",
                f"  database:  {database}",
                "Stop with Ctrl-C.",
            ]
        ),
        flush=True,
    )
    import uvicorn

    uvicorn.run(
        "extracted.payments.asgi:application",
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m extracted.payments`: migrate the service's database, then serve it with uvicorn."""

import sys

from extracted.seam.serving import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], service="payments", default_port=8300,
                  links={"JSON API": "/api/payments/authorise (POST, with an Idempotency-Key)",
                         "OpenAPI": "/api/docs"}))  # fmt: skip

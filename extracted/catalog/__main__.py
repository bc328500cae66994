"""`python -m extracted.catalog`: migrate the service's database, then serve it with uvicorn."""

import sys

from extracted.seam.serving import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], service="catalog", default_port=8200,
                  links={"JSON API": "/api/products/", "OpenAPI": "/api/docs"}))  # fmt: skip

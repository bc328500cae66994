"""`python -m legacy_monolith.workshop`: the same commands as `figkit workshop`."""

from legacy_monolith.workshop.cli import main

main()

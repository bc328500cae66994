#!/usr/bin/env python
"""Django's command-line utility for the payments service."""

import os
import sys
from pathlib import Path


def main() -> None:
    # Run from anywhere: `python extracted/payments/manage.py ...` needs the repo root importable.
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    sys.path.insert(0, str(here.parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "extracted.payments.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Django's command-line utility for the sample shop monolith."""

import os
import sys
from pathlib import Path


def main() -> None:
    # Run from anywhere: `python legacy_monolith/manage.py ...` needs the repo root importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "legacy_monolith.config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()

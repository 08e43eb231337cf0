#!/usr/bin/env python
"""ChargeNet's command-line entry point."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chargenet.settings")
    from django.core.management import execute_from_command_line

    from chargenet.env import ConfigError

    try:
        execute_from_command_line(sys.argv)
    except ConfigError as exc:
        sys.stderr.write(f"ChargeNet configuration error: {exc}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()

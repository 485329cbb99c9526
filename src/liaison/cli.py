"""The ``liaison`` console script: Django's management commands with Liaison's settings.

``liaison up``, ``liaison worker``, ``liaison scheduler``, ``liaison sync <provider>``,
``liaison secrets rotate``, ``liaison sandbox serve``, ``liaison migrate``, ...
"""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liaison.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["liaison", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()

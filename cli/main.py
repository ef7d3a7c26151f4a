"""Entry point of the ``k8py`` command (verbs are added in cli/)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    print("k8py: no verbs yet", file=sys.stderr)
    return 1

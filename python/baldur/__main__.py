"""``python -m baldur``: the ``baldur`` command (see :mod:`baldur.cli`)."""

from __future__ import annotations

import sys

from baldur.cli import main

if __name__ == "__main__":
    sys.exit(main())

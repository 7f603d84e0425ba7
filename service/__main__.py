"""``python -m service``: see :mod:`service.cli`."""

from __future__ import annotations

import sys

from service.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""``python -m service``: see :mod:`service.cli`.

Collections are off while the service imports and checks: they free nothing
then (everything built is kept) and cost about a tenth of a cold start. The
command turns them back on (``serve`` after freezing what its workers inherit).
"""

from __future__ import annotations

import gc
import sys

gc.disable()

from service.cli import main  # noqa: E402 (after gc.disable, on purpose)

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

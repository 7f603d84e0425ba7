"""``python -m service``: see :mod:`service.cli`.

Run as a program, collections are off while the service imports and checks:
they free nothing then (everything built is kept) and cost about a tenth of a
cold start. The command turns them back on (``serve`` when it forks its
workers, after freezing what they inherit). Imported as a module, nothing changes.
"""

from __future__ import annotations

import gc
import sys

if __name__ == "__main__":
    gc.disable()

from service.cli import main  # after gc.disable(), on purpose

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

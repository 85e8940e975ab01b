"""``python -m cfcore``: see :mod:`cfcore.cli`."""

import sys

from cfcore.cli import main

if __name__ == "__main__":
    sys.exit(main())

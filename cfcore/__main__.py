"""``python -m cfcore``: see :mod:`cfcore.cli.main`."""

import sys

from cfcore.cli.main import main

if __name__ == "__main__":
    sys.exit(main())

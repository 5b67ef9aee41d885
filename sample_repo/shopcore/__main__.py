"""Allow ``python -m shopcore ...`` as an alias for the ``shopcore`` command."""

import sys

from shopcore.cli import main

if __name__ == "__main__":
    sys.exit(main())

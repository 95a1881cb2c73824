"""Allow ``python -m wsserver``."""

import sys

from .cli import main

sys.exit(main())

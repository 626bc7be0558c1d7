"""``python -m edgec``: the same command line as the ``edgec`` script."""

import sys

from edgec.cli import main

sys.exit(main())

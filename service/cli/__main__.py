"""`python -m service.cli`: the `geohazard` command, for a checkout without the installed script."""

import sys

from service.cli import main

sys.exit(main())

"""`python -m survey_bot` runs the CLI."""

import sys

from .cli import main

sys.exit(main())

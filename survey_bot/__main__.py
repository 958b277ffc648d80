"""`python -m survey_bot` runs the CLI."""

import sys

from survey_bot.cli.main import main

sys.exit(main())

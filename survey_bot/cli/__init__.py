"""survey-bot's command line, one module per command group; `main` is the console script."""

from survey_bot.cli.main import main

__all__ = ["main"]

"""survey-bot: phone surveys and intake forms from JSON Schema, on Telnyx voice AI with a keypad fallback."""

__version__ = "0.1.0"

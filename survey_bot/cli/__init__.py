"""survey-bot's command line: main.py assembles the parser; each other module is one command group
(serve, demo, simulate, db, forms, call, export) and registers itself with `add_parser`."""

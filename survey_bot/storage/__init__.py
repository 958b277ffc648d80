"""The SQL store, SQLite and PostgreSQL alike: engines and SQLite tuning, models, migrations, the write path's
reads and writes (prebuilt statements, the response cache), the outbox, form versions.

Functions take a session or connection first and never commit: the caller owns the transaction. Imports
flow (the state it maps rows to), forms, vocabulary, errors and json_codec; never intake, dispatch or web.
"""

"""Store to people: the one read model (forms overview, response detail, timeline), the funnel and outcome
arithmetic (metrics), and the CSV/NDJSON exports with their formula-safe cells.

Read-only. Imports storage, forms, vocabulary, utc; never web (the web layer renders what this returns).
"""

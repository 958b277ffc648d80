"""Webhooks in: the plain-ASGI webhook endpoint (verify, parse, submit, answer) and the one write path that
records each event once, updates its response, decides (flow) and commits the commands with it (the outbox),
in group-committed batches on both databases. Also where outbound calls start (a response and its dial).

Imports storage, flow, forms, telephony (envelope, signature, arguments), vocabulary; never dispatch or web.
"""

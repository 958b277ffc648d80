"""Commands out: the sender that claims outbox commands and sends them through the SDK in order per call
(sender), and the child process it runs in beside each web process (child).

Imports storage, telephony (client), intake (a refused command is an event for the write path), runtime.
"""

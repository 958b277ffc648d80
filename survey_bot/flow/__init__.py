"""The conversation, pure: next_commands(event, state, form, now) -> the new state and the commands it makes due.

Owns: the Event the flow reads, the call state (CallState, whose fields are the one declaration of what a
response's state is), the decisions per event type (HANDLERS) and the status rule (settle). Imports forms,
vocabulary and errors; no SQL, no web framework, no telephony SDK.
"""

"""Everything Telnyx, and the only package that imports its SDK (a second provider would be a sibling package).

Owns: the webhook envelope (parse_event, client_state), the signature check on the raw bytes, a form compiled
into command arguments, the SDK client that sends commands, and the provider's own form rules (languages,
voices). Imports forms, flow, vocabulary, errors and json_codec; never storage, intake or web.
"""

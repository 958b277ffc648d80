"""The form language, pure: a JSON Schema file -> a checked Form -> keypad mappings, phrases, typed answers.

Owns: loading and checking form files (JSON pointers), the schema walk, keypad mapping and digit parsing,
answer validation and the words spoken on the keypad. Imports only config, errors and vocabulary from
survey-bot (no SQL, no web framework, no telephony SDK: the provider's own checks are passed in).
"""

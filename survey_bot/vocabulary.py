"""The words every part shares: response statuses, answer sources, survey outcomes, and how people read them.

One place, so the flow, the store, the exports, the API and the dashboard can never disagree on a spelling.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ABANDONED",
    "AI",
    "AI_PARTIAL",
    "COMPLETED",
    "DECLINED",
    "DECLINED_CELL",
    "DIAL_FAILED",
    "DTMF",
    "EXPORT_COLUMNS",
    "FAILED",
    "FINAL_SOURCES",
    "HANGUP_CAUSES",
    "INVALID_NUMBER",
    "IN_PROGRESS",
    "LOST",
    "MACHINE",
    "NOT_APPLICABLE",
    "NOT_DIALLED",
    "OPT_OUT",
    "OUTCOMES",
    "OUTCOME_COLOURS",
    "OUTCOME_LABELS",
    "PARTIAL",
    "REFUSAL_CAUSES",
    "RESERVED_NAMES",
    "SOURCES",
    "SOURCE_LABELS",
    "SOURCE_NAMES",
    "STATUSES",
]

# A response's status. `in_progress` until the call ends; then one of the others (see flow.status.settle).
IN_PROGRESS: Final = "in_progress"
COMPLETED: Final = "completed"
PARTIAL: Final = "partial"
ABANDONED: Final = "abandoned"
FAILED: Final = "failed"
STATUSES: Final = (IN_PROGRESS, COMPLETED, PARTIAL, ABANDONED, FAILED)

# Where an answer came from. `ai_partial` is provisional (a partial result); the others are final.
AI: Final = "ai"
AI_PARTIAL: Final = "ai_partial"
DTMF: Final = "dtmf"
DECLINED: Final = "declined"  # the caller chose not to answer an optional question (no value is kept)
SOURCES: Final = (AI, AI_PARTIAL, DTMF, DECLINED)
FINAL_SOURCES: Final = frozenset({AI, DTMF})
SOURCE_LABELS: Final = {AI: "AI", AI_PARTIAL: "AI (partial)", DTMF: "keypad", DECLINED: "declined"}  # for tables
SOURCE_NAMES: Final = {AI: "voice AI", AI_PARTIAL: "voice AI (partial)", DTMF: "keypad",
                       DECLINED: "declined by the caller"}  # in sentences
# An answer kept for a field that is no longer relevant (the answer that made it relevant was corrected):
# shown and exported as not applicable.
NOT_APPLICABLE: Final = "not_applicable"
DECLINED_CELL: Final = ".declined"  # a declined answer in a CSV cell (a leading dot: no answer looks like it)

# The metadata columns of a CSV export, before the fields' own. A field may not take one of these names, nor
# one reserved for the voice AI's list of declined questions and its opt-out flag.
EXPORT_COLUMNS: Final = ("response_id", "form_id", "form_version", "status", "direction", "from", "to", "locale",
                         "started_at", "completed_at")
RESERVED_NAMES: Final = frozenset({*EXPORT_COLUMNS, "declined_questions", "opt_out"})

# Hang-up causes survey-bot sets itself (Telnyx's own, such as normal_clearing, are stored as Telnyx sends them).
LOST: Final = "lost"  # the watchdog found the call gone without its hang-up webhook
OPT_OUT: Final = "opt_out"  # the caller asked not to be called again
MACHINE: Final = "machine"  # an answering machine took the call
DIAL_FAILED: Final = "dial_failed"  # Telnyx refused the dial for good: no call was placed
INVALID_NUMBER: Final = "invalid_number"  # ... because the number is not a valid one (telephony.client says which)
NOT_DIALLED: Final = "not_dialled"  # the dial was never sent (its campaign was cancelled first): not an attempt
HANGUP_CAUSES: Final = (LOST, OPT_OUT, MACHINE, DIAL_FAILED, INVALID_NUMBER, NOT_DIALLED)
# Telnyx hang-up causes of a call no person took: counted as refused, not failed.
REFUSAL_CAUSES: Final = frozenset({"no_answer", "user_busy", "call_rejected", "timeout"})

# A response's survey outcome (reports.metrics.outcome_of), in the order reports show them.
OUTCOMES: Final = ("completed", "partial", "breakoff", "refused", "failed")
OUTCOME_LABELS: Final = {"completed": "Completed", "partial": "Partial", "breakoff": "Breakoff",
                         "refused": "No contact", "failed": "Failed"}
OUTCOME_COLOURS: Final = {"completed": "#1d6b35", "partial": "#1f5fa8", "breakoff": "#b00020",
                          "refused": "#6b6b6b", "failed": "#4a4a4a"}

"""A contact's one final disposition, derived from its attempts' outcomes (AAPOR Standard Definitions,
telephone surveys), so the export, the report and scenario files can never disagree on it.

Ranking (highest wins): complete > partial > break-off or refusal > machine with a human reached on another
attempt > the last attempt's non-contact outcome > not attempted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

__all__ = ["ATTEMPT_OUTCOMES", "CODES", "DISPOSITIONS", "FINAL_OUTCOMES", "HUMAN_OUTCOMES", "RETRY_OUTCOMES",
           "disposition_of"]

# What one dial came to (contact_attempts.outcome). `human` is an answered call still in progress.
HUMAN: Final = "human"
COMPLETE: Final = "complete"
PARTIAL: Final = "partial"
BREAK_OFF: Final = "break_off"
REFUSAL: Final = "refusal"  # a hang-up during the disclosure
OPT_OUT: Final = "opt_out"
MACHINE: Final = "machine"
MACHINE_VOICEMAIL: Final = "machine_voicemail"  # a machine on which the voicemail message was left
NO_ANSWER: Final = "no_answer"
BUSY: Final = "busy"
TECHNICAL: Final = "technical"
FAX: Final = "fax"
INVALID_NUMBER: Final = "invalid_number"
QUOTA_FULL: Final = "quota_full"
ATTEMPT_OUTCOMES: Final = (HUMAN, COMPLETE, PARTIAL, BREAK_OFF, REFUSAL, OPT_OUT, MACHINE, MACHINE_VOICEMAIL,
                           NO_ANSWER, BUSY, TECHNICAL, FAX, INVALID_NUMBER, QUOTA_FULL)
# Outcomes after which the contact is called again (up to the campaign's attempts), and those that end it.
RETRY_OUTCOMES: Final = frozenset({NO_ANSWER, BUSY, TECHNICAL, MACHINE, BREAK_OFF})
FINAL_OUTCOMES: Final = frozenset({COMPLETE, PARTIAL, REFUSAL, OPT_OUT, MACHINE_VOICEMAIL, FAX, INVALID_NUMBER,
                                   QUOTA_FULL})
# Outcomes on which a person was reached.
HUMAN_OUTCOMES: Final = frozenset({HUMAN, COMPLETE, PARTIAL, BREAK_OFF, REFUSAL, OPT_OUT})

# Disposition slug -> AAPOR code (binding: export columns, report, scenario files' expect.disposition).
CODES: Final = {
    "complete": "1.1",
    "partial": "1.2",
    "break_off": "2.12",
    "refusal": "2.11",
    "machine_human_reached": "2.22",
    "machine": "3.14",
    "no_answer": "3.13",
    "busy": "3.12",
    "technical": "3.16",
    "invalid_number": "4.31",
    "fax": "4.20",
    "quota_full": "4.80",
    "not_attempted": "3.11",
}
DISPOSITIONS: Final = ("complete", "partial", "break_off", "refusal", "machine", "no_answer", "busy", "technical",
                       "invalid_number", "fax", "quota_full", "not_attempted")
_NON_CONTACT = {MACHINE: "machine", MACHINE_VOICEMAIL: "machine", NO_ANSWER: "no_answer", BUSY: "busy",
                TECHNICAL: "technical", FAX: "fax", INVALID_NUMBER: "invalid_number", QUOTA_FULL: "quota_full"}


def disposition_of(outcomes: Sequence[str | None]) -> tuple[str, str]:
    """Return (slug, AAPOR code) for a contact whose attempts, oldest first, came to `outcomes`.

    `None` (an attempt still in flight) counts as a break-off; `human` (a person answered, no interview came
    of it: a technical end after the answer) counts as a person reached, which turns a machine into 2.22.
    """
    seen = [BREAK_OFF if outcome is None else outcome for outcome in outcomes]
    for slug in (COMPLETE, PARTIAL):
        if slug in seen:
            return slug, CODES[slug]
    contact = [o for o in seen if o in (BREAK_OFF, REFUSAL, OPT_OUT)]
    if contact:
        slug = "break_off" if contact[-1] == BREAK_OFF else "refusal"  # the latest; an opt-out is a refusal
        return slug, CODES[slug]
    if not seen:
        return "not_attempted", CODES["not_attempted"]
    machine = any(o in (MACHINE, MACHINE_VOICEMAIL) for o in seen)
    if machine and HUMAN in seen:
        return "machine", CODES["machine_human_reached"]
    non_contact = [o for o in seen if o != HUMAN]
    if not non_contact:
        return "break_off", CODES["break_off"]
    slug = _NON_CONTACT.get(non_contact[-1], "technical")
    return slug, CODES[slug]

"""How `survey-bot campaign` prints an import's summary, a status and a report as text (a few lines a person
reads; `--json` gives the same as the API)."""

from __future__ import annotations

from collections.abc import Sequence

from survey_bot.reports.campaign_views import CampaignReport, CampaignStatus
from survey_bot.reports.campaigns import report_lines
from survey_bot.storage.campaigns import ImportSummary

__all__ = ["print_import", "print_report", "print_status"]

SHOWN = 20  # problem rows printed per kind; the rest are counted


def print_import(summary: ImportSummary, source: str, unfilled: Sequence[str] = ()) -> None:
    """The import's counts, the first problem rows with their line and reason, the form's placeholders no column
    fills, and the campaign id last."""
    print(f"{source}: {summary.imported} contacts imported, {summary.rejected} rejected, {summary.duplicates} "
          f"duplicates merged, {summary.suppressed} on the suppression list (not imported)")
    for row in summary.rejected_rows[:SHOWN]:
        print(f"  line {row.line}: rejected: {row.reason}")
    for duplicate in summary.duplicate_rows[:SHOWN]:
        print(f"  line {duplicate.line}: duplicate of line {duplicate.first_line} ({duplicate.phone}): merged")
    for line, phone in summary.suppressed_rows[:SHOWN]:
        print(f"  line {line}: {phone} is on the suppression list: not imported")
    hidden = sum(max(0, n - SHOWN) for n in (summary.rejected, summary.duplicates, summary.suppressed))
    if hidden:
        print(f"  ... and {hidden} more such lines (the API's response lists up to 1000 of each)")
    if unfilled:
        named = ", ".join(f"{{{name}}}" for name in unfilled)
        print(f"  note: the form's opening names {named}, which the list has no column for: its calls leave it out")
    print(summary.campaign_id)


def print_status(status: CampaignStatus) -> None:
    """A campaign's state in a few lines."""
    rules, contacts = status.rules, status.contacts
    print(f"campaign {status.campaign_id} ({status.name}), form {status.form_id}: {status.status}")
    print(f"contacts: {contacts.total} ({contacts.pending} pending, {contacts.dialing} dialing, {contacts.done} done)")
    print(f"attempts: {status.attempts}; calls in progress: {status.calls_in_progress}")
    next_call = status.next_call_at.isoformat(timespec="seconds") if status.next_call_at else "-"
    print(f"next call: {next_call}")
    print(f"completes: {status.completes}" + (f" of a quota of {status.quota}" if status.quota else ""))
    print(f"rules: window {rules.window} on {rules.days}, {rules.max_attempts} attempts, retry after "
          f"{rules.retry_after}, {rules.concurrency} at once, {rules.rate:g}/s, AMD {'on' if rules.amd else 'off'}"
          + (", voicemail message" if rules.voicemail else ""))


def print_report(report: CampaignReport) -> None:
    """Counts per disposition (with their AAPOR codes), then the rates with their formulas."""
    print("\n".join(report_lines(report)))

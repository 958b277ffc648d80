"""A scenario file's `campaign`: a small campaign described as data (its `campaign create` options, its contacts
and who picks up on each attempt), checked with the same code `campaign create` uses (CampaignSettings.from_text
for the options, the contact list's reader for the rows), so a bad value or row reads as it would there."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from survey_bot.campaigns.contacts import Contact, Duplicate, ListError, Rejected, read_contacts
from survey_bot.campaigns.settings import CampaignSettings, SettingError, campaign_form_problem
from survey_bot.forms.model import Form
from survey_bot.sandbox.scenario_calls import (
    Expectation,
    expect_problems,
    expectation_of,
    scenario_call,
    script_problems,
)
from survey_bot.simulator.scenario import Scenario

__all__ = ["OPTIONS", "SIMULATOR_DEFAULTS", "ContactExpectation", "ScenarioCampaign", "ScenarioContact",
           "campaign_problems", "scenario_campaign"]

OPTIONS: Final = ("window", "days", "max-attempts", "retry-after", "concurrency", "rate", "amd", "voicemail",
                  "quota", "locale", "default-region")
# Where the simulator's defaults differ from `campaign create`'s: open all day, every day, retries at once.
SIMULATOR_DEFAULTS: Final[Mapping[str, Any]] = {"window": "00:00-23:59", "days": "mon-sun", "retry-after": "1s",
                                                "concurrency": 4, "rate": 4}
_KNOWN_COLUMNS: Final = ("phone", "timezone", "locale", "name")


@dataclass(frozen=True)
class ContactExpectation:
    """What a contact should end with; None: not compared. `call` holds the response's expectations."""

    disposition: str | None = None
    attempts: int | None = None
    outcomes: tuple[str, ...] | None = None
    call: Expectation = field(default_factory=Expectation)


@dataclass(frozen=True)
class ScenarioContact:
    """One contact: its number as the import writes it (E.164) and its callee on each attempt, in order."""

    name: str
    pointer: str
    phone: str
    attempts: tuple[Scenario, ...]
    expect: ContactExpectation | None


@dataclass(frozen=True)
class ScenarioCampaign:
    """A checked `campaign`: its settings, contacts, the contact list as CSV lines, and notes for the reader."""

    name: str
    settings: CampaignSettings
    contacts: tuple[ScenarioContact, ...]
    list_lines: tuple[bytes, ...]
    notes: tuple[str, ...] = ()


def settings_of(block: Mapping[str, Any]) -> CampaignSettings:
    """The campaign's settings from its options, as `campaign create` reads them (SettingError names a bad one)."""
    given = {**SIMULATOR_DEFAULTS, **{key: block[key] for key in OPTIONS if key in block}}
    return CampaignSettings.from_text(**{key.replace("-", "_"): value for key, value in given.items()})


def list_lines(contacts: Sequence[Mapping[str, Any]]) -> tuple[bytes, ...]:
    """The contacts as the CSV list `campaign create --contacts` would read (their variables as its columns)."""
    columns = list(_KNOWN_COLUMNS)
    for contact in contacts:
        columns += [name for name in contact.get("variables", {}) if name not in columns]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for contact in contacts:
        cells = {**{key: contact.get(key) for key in _KNOWN_COLUMNS}, **contact.get("variables", {})}
        writer.writerow(["" if cells.get(name) is None else _cell(cells[name]) for name in columns])
    return tuple(line.encode() for line in out.getvalue().splitlines(keepends=True))


def _cell(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _imported(block: Mapping[str, Any], settings: CampaignSettings | None) -> Iterator[Contact | Rejected | Duplicate]:
    """Each contact as the import reads it (the list's line n is contact n - 2); ListError for the whole list."""
    lines = (line.decode() for line in list_lines(block["contacts"]))
    _, rows = read_contacts(lines, default_region=settings.default_region if settings else None,
                            default_locale=settings.locale if settings else None)
    yield from rows


def campaign_problems(block: Mapping[str, Any], form: Form) -> Iterator[tuple[str, str]]:
    """Every problem of a schema-valid `campaign` (pointer, message), in the terms `campaign create` uses."""
    settings = None
    try:
        settings = settings_of(block)
    except SettingError as exc:
        yield f"/campaign/{exc.option}", exc.message
    try:
        for row in _imported(block, settings):
            at = f"/campaign/contacts/{row.line - 2}"
            if isinstance(row, Rejected):
                yield at, row.reason
            elif isinstance(row, Duplicate):
                yield f"{at}/phone", f"{row.phone} is also contact {row.first_line - 2}'s number (the import " \
                                     "merges them): give each contact its own number"
    except ListError as exc:
        yield "/campaign/contacts", exc.message
    for i, contact in enumerate(block["contacts"]):
        if contact.get("locale") and contact["locale"] not in form.locales:
            yield f"/campaign/contacts/{i}/locale", \
                f"{contact['locale']!r} is not one of the form's locales ({', '.join(form.locales)})"
        for j, attempt in enumerate(contact.get("attempts", [])):
            yield from script_problems(attempt, f"/campaign/contacts/{i}/attempts/{j}", form)
        yield from expect_problems(contact.get("expect", {}), f"/campaign/contacts/{i}/expect", form)


def scenario_campaign(block: Mapping[str, Any], form: Form) -> ScenarioCampaign:
    """A `campaign` without problems (campaign_problems found none) as the runner plays it."""
    settings = settings_of(block)
    phones = {row.line - 2: row.phone for row in _imported(block, settings) if isinstance(row, Contact)}
    contacts = tuple(_contact(contact, f"/campaign/contacts/{i}", phones[i], form)
                     for i, contact in enumerate(block["contacts"]))
    problem = campaign_form_problem(form)
    notes = () if problem is None else (f"note: {problem}; the simulator plays it all the same, `campaign create` "
                                        "would refuse it",)
    return ScenarioCampaign(block.get("name", "scenario"), settings, contacts, list_lines(block["contacts"]), notes)


def _contact(contact: Mapping[str, Any], pointer: str, phone: str, form: Form) -> ScenarioContact:
    attempts = tuple(
        replace(scenario_call({**attempt, "name": f"attempt {j + 1}", "direction": "outbound", "to": phone},
                              f"{pointer}/attempts/{j}", form).scenario, to_number=phone)
        for j, attempt in enumerate(contact.get("attempts", [])))
    expect = contact.get("expect")
    expectation = None if expect is None else ContactExpectation(
        expect.get("disposition"), expect.get("attempts"),
        tuple(expect["outcomes"]) if "outcomes" in expect else None, expectation_of(expect, form))
    return ScenarioContact(contact["name"], pointer, phone, attempts, expectation)

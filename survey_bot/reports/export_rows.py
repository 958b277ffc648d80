"""One exported response: its CSV cells or its NDJSON object, following the form version's skip logic.

CSV: `META_COLUMNS`, one column per field (dotted names, newest version's order, then fields only older
versions had), then with sources a `<field>.source` per field; values as `csv_safety.cell_text` writes
them; formula-like cells neutralised unless raw; `excel` adds a BOM and CRLF line ends. A declined answer is
the reserved value `.declined` (source `declined`); a field the response's answers made not applicable is
empty (source `not_applicable`) even when a value was kept.
With labels, a choice field's value (each item of an array of choices) is its label in the form version the
response used (forms.labels: x-labels, oneOf titles, else the value humanised).
A sensitive answer (x-sensitive) is left out (an empty CSV cell; no NDJSON key) unless the export includes
sensitive answers, which its caller records in the audit log (reports.export.audit_sensitive_export).
NDJSON: one object per response with the metadata, `answers`, `sources` and `provenance` nested as in the
form (a declined answer, and a value kept for a field made not applicable, are null), and the lists
`declined` and `not_applicable`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic_core import from_json

from survey_bot.forms.conditions import Logic, Relevance
from survey_bot.forms.labels import said
from survey_bot.forms.validation import nest
from survey_bot.reports.csv_safety import cell_text, csv_record, export_time, neutralise, neutralise_all
from survey_bot.storage.sealing import PREFIX, shown_answers
from survey_bot.vocabulary import DECLINED, DECLINED_CELL, EXPORT_COLUMNS, NOT_APPLICABLE

__all__ = ["META_COLUMNS", "ExportPlan", "csv_records", "ndjson_record"]

META_COLUMNS = EXPORT_COLUMNS


@dataclass(frozen=True)
class ExportPlan:
    """An export's columns: every field of every version used (newest version's order first)."""

    form_id: str
    fields: tuple[str, ...]
    versions: Mapping[int, str]  # FormVersion.id -> version hash
    logic: Mapping[int | None, Logic] = field(default_factory=dict)  # the versions with skip logic (None: today's)
    # version -> locale -> choice field -> its labels by label_key (forms.labels.field_labels), for exports with
    # labels (each response's in its own locale)
    labels: Mapping[int | None, Mapping[str, Mapping[str, Mapping[str, str]]]] = field(default_factory=dict)
    sensitive: frozenset[str] = frozenset()  # x-sensitive fields in any version used: left out unless included
    include_sensitive: bool = False  # --include-sensitive / include_sensitive=true (audited by the caller)
    documents: Mapping[int | None, Any] = field(default_factory=dict)  # version -> its form document (FHIR's items)

    _dropped: dict[tuple[int, Relevance], tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)

    def not_applicable(self, logic: Logic, relevance: Relevance) -> tuple[str, ...]:
        """The export's fields this version knows that are not relevant (worked out once per distinct relevance:
        an export of a million rows sees a handful)."""
        key = (id(logic), relevance)
        found = self._dropped.get(key)
        if found is None:
            found = self._dropped[key] = tuple(
                name for name in self.fields if name in logic.names and name not in relevance.relevant)
        return found

    def labels_for(self, version_id: int | None, locale: str | None) -> Mapping[str, Mapping[str, str]]:
        """A version's choice labels in `locale` (a locale it does not speak: its default locale's)."""
        by_locale = self.labels.get(version_id, {})
        return by_locale.get(locale or "") or next(iter(by_locale.values()), {})

    def header(self, with_sources: bool = False) -> list[str]:
        """The CSV header row."""
        sources = [f"{name}.source" for name in self.fields] if with_sources else []
        return [*META_COLUMNS, *self.fields, *sources]


def _stored(answers: str, plan: ExportPlan) -> dict[str, Any]:
    """A row's answers as exported: sensitive ones (of an x-sensitive field, or sealed) left out, or opened when
    the export includes them. Most forms have none: their rows skip this."""
    values: dict[str, Any] = from_json(answers)
    if plan.sensitive or PREFIX in answers:
        return shown_answers(values, plan.sensitive, "reveal" if plan.include_sensitive else "omit")
    return values


def _answers(values: dict[str, Any], sources_text: str | None, version_id: int | None, plan: ExportPlan,
             ) -> tuple[dict[str, Any], dict[str, Any], list[str], tuple[str, ...]]:
    """(exported answers, sources, declined, not applicable) of one row. The sources are read only when they
    can change the cells: a form version with skip logic, or a field without a value (perhaps declined)."""
    logic = plan.logic.get(version_id)
    if logic is None and len(values) >= len(plan.fields):
        return values, {}, [], ()
    sources: dict[str, Any] = from_json(sources_text) if sources_text else {}
    declined = [name for name in plan.fields if sources.get(name) == DECLINED] \
        if DECLINED in sources.values() else []
    if logic is None:
        return values, sources, declined, ()
    dropped = plan.not_applicable(logic, logic.relevance(values, sources))
    if not dropped:
        return values, sources, declined, ()
    return ({k: v for k, v in values.items() if k not in dropped}, sources,
            [name for name in declined if name not in dropped], dropped)


def _labelled(values: dict[str, Any], choices: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    """The answers with each choice field's value (each item of an array of choices) as its label."""
    out = dict(values)
    for name, labels in choices.items():
        value = out.get(name)
        if isinstance(value, list):
            out[name] = [said(item, labels) for item in value]
        elif value is not None:
            out[name] = said(value, labels)
    return out


def csv_records(rows: Sequence[Any], plan: ExportPlan, with_sources: bool, raw: bool, line_end: str,
                labels: bool = False) -> list[str]:
    """The CSV records of a batch of rows (`response_batches` order); with `labels`, choices as their labels."""
    form_id, fields, versions = plan.form_id, plan.fields, plan.versions
    safe = (lambda cell: cell) if raw else neutralise
    out = []
    for rid, version_id, status, direction, from_, to, locale, started, completed, answers, sources_text in rows:
        values, sources, declined, dropped = _answers(_stored(answers, plan), sources_text, version_id, plan)
        if labels:
            values = _labelled(values, plan.labels_for(version_id, locale))
        # Most answers are strings: skip the call for them (this loop runs once per exported row).
        texts = [v if type(v) is str else cell_text(v) for v in map(values.get, fields)]
        for name in declined:
            texts[fields.index(name)] = DECLINED_CELL
        # Only the numbers and the answers can carry a formula: the rest are ids, enums and timestamps.
        cells = [rid, form_id, versions.get(version_id, ""), status, direction, safe(from_ or ""),
                 safe(to or ""), locale or "", export_time(started), export_time(completed),
                 *(texts if raw else neutralise_all(texts))]
        if with_sources:
            sources = sources or (from_json(sources_text) if sources_text else {})
            cells.extend([NOT_APPLICABLE if name in dropped else cell_text(sources.get(name)) for name in fields])
        out.append(csv_record(cells, line_end))
    return out


def ndjson_record(row: Any, plan: ExportPlan, labels: bool = False) -> dict[str, Any]:
    """One response as an NDJSON object (a `response_batches` row read with provenance); with `labels`,
    choices as their labels."""
    rid, version_id, status, direction, from_, to, locale, started, completed, answers, sources_text, times, heard \
        = row
    stored = _stored(answers, plan)
    values, _sources, declined, dropped = _answers(stored, sources_text, version_id, plan)
    if labels:
        values = _labelled(values, plan.labels_for(version_id, locale))
    sources: dict[str, Any] = from_json(sources_text) if sources_text else {}
    # null where the response holds something not exported: a declined question, a value made not applicable
    values.update(dict.fromkeys([*declined, *(name for name in dropped if name in stored)]))
    times_of: dict[str, Any] = from_json(times) if times else {}
    heard_of: dict[str, Any] = from_json(heard) if heard else {}
    provenance = {name: {"source": sources.get(name), "at": times_of.get(name), **_dict(heard_of.get(name))}
                  for name in sources if name in plan.fields}
    return {
        "response_id": rid, "form_id": plan.form_id, "form_version": plan.versions.get(version_id),
        "status": status, "direction": direction, "from": from_, "to": to, "locale": locale,
        "started_at": export_time(started), "completed_at": export_time(completed) or None,
        "answers": nest(values), "sources": nest(sources), "declined": declined, "not_applicable": dropped,
        "provenance": nest(provenance),
    }


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}

"""Skip logic, the one rule: which fields are relevant and which are required for one response, computed from
the form's conditionals and the answers so far. Every part uses it: the keypad queue, the AI's re-ask, the
status, the funnel, the dashboard and the exports.

Plain JSON Schema evaluation gives the wrong answer here (an `if` holds while the field it reads is still
absent), so the rule is survey-bot's own:
- supported at the top level and inside nested objects: if/then/else, dependentRequired, dependentSchemas, and
  allOf whose members are such conditionals (branches may hold conditionals of their own);
- a field named by a conditional (a branch's `properties` or `required`, a dependentRequired or
  dependentSchemas entry) is relevant only while a branch naming it applies; every other field always is;
- a branch applies only when every field its condition reads has a final answer: an absent answer never
  satisfies an `if`, and then neither `then` nor `else` applies;
- a field is required when it is relevant and required at every level of its path, statically or by a branch
  that applies.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from survey_bot.forms.schema_walk import escape, inline, is_object, nested_objects, resolve
from survey_bot.forms.validation import nest, validator_for
from survey_bot.vocabulary import FINAL_SOURCES

__all__ = ["Branch", "Conditional", "Logic", "Relevance", "build_logic", "condition_reads", "read_keys"]

Path = tuple[str, ...]


@dataclass(frozen=True)
class Branch:
    """What applies when a condition holds (`then`, a dependent entry) or fails (`else`)."""

    pointer: str
    prefix: Path
    names: frozenset[str]  # the fields it declares or requires (dotted leaf names)
    required: frozenset[str]  # the keys it requires, relative to its object
    conditionals: tuple[Conditional, ...]


@dataclass(frozen=True)
class Conditional:
    """One if/then/else, or one dependentRequired / dependentSchemas entry (`test` None: an answer present)."""

    pointer: str
    prefix: Path
    reads: frozenset[str]  # the fields the condition reads (dotted leaf names)
    test: Mapping[str, Any] | None
    then: Branch | None
    otherwise: Branch | None


@dataclass(frozen=True)
class Relevance:
    """Which fields one response should be asked, and which of those it must answer to be complete."""

    relevant: frozenset[str]
    required: frozenset[str]


@dataclass(frozen=True)
class Logic:
    """A form's skip logic, built once when the form is loaded (build_logic)."""

    fields: tuple[Path, ...]  # every field's path, in form order
    conditionals: tuple[Conditional, ...]
    named: frozenset[str]  # the fields some branch names: relevant only while one of those applies
    static_required: Mapping[Path, frozenset[str]]  # per object (its path), the keys it requires
    branch_required: Mapping[Path, frozenset[str]]  # per object, the keys some branch may require

    @property
    def conditional(self) -> bool:
        """Whether the form has any skip logic at all."""
        return bool(self.conditionals)

    @cached_property
    def names(self) -> frozenset[str]:
        """Every field's dotted name."""
        return frozenset(".".join(path) for path in self.fields)

    @property
    def never_required(self) -> frozenset[str]:
        """The fields no answer can make required: the only ones a caller may ever decline."""
        def may(path: Path) -> bool:
            return all(path[i] in self.static_required.get(path[:i], frozenset())
                       or path[i] in self.branch_required.get(path[:i], frozenset()) for i in range(len(path)))
        return frozenset(".".join(path) for path in self.fields if not may(path))

    @cached_property
    def reads(self) -> tuple[str, ...]:
        """Every field some condition reads: the only answers relevance depends on."""
        found: dict[str, None] = {}
        pending = list(self.conditionals)
        while pending:
            conditional = pending.pop()
            found.update(dict.fromkeys(sorted(conditional.reads)))
            pending += [c for branch in (conditional.then, conditional.otherwise) if branch is not None
                        for c in branch.conditionals]
        return tuple(sorted(found))

    @cached_property
    def _memo(self) -> dict[tuple[Any, ...], Relevance]:
        return {}

    def relevance(self, answers: Mapping[str, Any], sources: Mapping[str, Any]) -> Relevance:
        """The relevant and the required fields, given the answers so far (only final answers count).

        Memoised on the answers the conditions read (an export asks once per row: a million rows of one form
        take a handful of distinct keys)."""
        key = tuple(_key_of(name, answers, sources) for name in self.reads)
        known = self._memo.get(key)
        if known is None:
            if len(self._memo) >= _MEMO_SIZE:
                self._memo.clear()
            known = self._memo[key] = self._relevance(answers, sources)
        return known

    def _relevance(self, answers: Mapping[str, Any], sources: Mapping[str, Any]) -> Relevance:
        final = frozenset(name for name in self.reads if sources.get(name) in FINAL_SOURCES and name in answers)
        applying = list(_applying(self.conditionals, answers, final))
        relevant = (self.names - self.named).union(*(branch.names for branch in applying))
        extra: dict[Path, set[str]] = {}
        for branch in applying:
            extra.setdefault(branch.prefix, set()).update(branch.required)
        required = {".".join(path) for path in self.fields if ".".join(path) in relevant and all(
            path[i] in self.static_required.get(path[:i], frozenset()) or path[i] in extra.get(path[:i], ())
            for i in range(len(path)))}
        return Relevance(frozenset(relevant), frozenset(required))


_MEMO_SIZE = 4096
_MISSING = object()


def _key_of(name: str, answers: Mapping[str, Any], sources: Mapping[str, Any]) -> tuple[Any, ...]:
    """What relevance sees of one answer: whether it is final, and its value (typed: true is not 1)."""
    value = answers.get(name, _MISSING)
    if value is _MISSING or sources.get(name) not in FINAL_SOURCES:
        return (False,)
    if value is None or isinstance(value, str | int | float | bool):
        return (True, type(value).__name__, value)
    return (True, "json", json.dumps(value, sort_keys=True, default=str))


def _applying(conditionals: Iterable[Conditional], answers: Mapping[str, Any],
              final: frozenset[str]) -> Iterator[Branch]:
    for conditional in conditionals:
        if not conditional.reads <= final:
            continue  # an answer the condition reads is missing: neither branch applies
        branch = conditional.then if conditional.test is None or _holds(conditional, answers, final) \
            else conditional.otherwise
        if branch is not None:
            yield branch
            yield from _applying(branch.conditionals, answers, final)


def _holds(conditional: Conditional, answers: Mapping[str, Any], final: frozenset[str]) -> bool:
    depth = len(conditional.prefix)
    inside = {name.split(".", depth)[-1]: answers[name] for name in conditional.reads}  # all final (_applying)
    assert conditional.test is not None
    return bool(validator_for(conditional.test).is_valid(nest(inside)))


def build_logic(document: Mapping[str, Any], fields: Sequence[Path]) -> Logic:
    """Find every conditional of the form (raises RefError for a $ref that does not resolve)."""
    builder = _Builder(document, tuple(fields))
    conditionals = tuple(builder.object(document, "", (), ()))
    named = frozenset().union(*(branch.names for branch in builder.branches))
    branch_required: dict[Path, frozenset[str]] = {}
    for branch in builder.branches:
        branch_required[branch.prefix] = branch_required.get(branch.prefix, frozenset()) | branch.required
    return Logic(builder.fields, conditionals, named, builder.static_required, branch_required)


class _Builder:
    """Walks the form's objects once, collecting their conditionals and their static `required`."""

    def __init__(self, document: Mapping[str, Any], fields: tuple[Path, ...]) -> None:
        self.document, self.fields = document, fields
        self.static_required: dict[Path, frozenset[str]] = {}
        self.branches: list[Branch] = []

    def under(self, prefix: Path, keys: Iterable[str]) -> frozenset[str]:
        """The fields at or under these keys of the object at `prefix`."""
        wanted = {(*prefix, key) for key in keys}
        return frozenset(".".join(path) for path in self.fields
                         if any(path[:len(w)] == w for w in wanted))

    def object(self, obj: Mapping[str, Any], pointer: str, prefix: Path, seen: tuple[str, ...]) -> list[Conditional]:
        """The conditionals of one object schema (and of the objects nested in it, which carry their own)."""
        required = obj.get("required")
        self.static_required.setdefault(prefix, frozenset(r for r in required if isinstance(r, str))
                                        if isinstance(required, list) else frozenset())
        found = list(self.conditionals(obj, pointer, prefix, seen))
        for schema, at, path, now_seen in nested_objects(self.document, obj, pointer, prefix, seen):
            found += self.object(schema, at, path, now_seen)
        return found

    def conditionals(self, obj: Mapping[str, Any], pointer: str, prefix: Path,
                     seen: tuple[str, ...]) -> Iterator[Conditional]:
        for key in obj:
            value = obj[key]
            if key == "if" and isinstance(value, dict):
                test = inline(self.document, value, f"{pointer}/if", seen)
                yield Conditional(f"{pointer}/if", prefix, self.under(prefix, read_keys(test)), test,
                                  self.branch(obj.get("then"), f"{pointer}/then", prefix, seen),
                                  self.branch(obj.get("else"), f"{pointer}/else", prefix, seen))
            elif key == "dependentRequired" and isinstance(value, dict):
                for name, needed in value.items():
                    at = f"{pointer}/dependentRequired/{escape(name)}"
                    keys = [k for k in needed if isinstance(k, str)] if isinstance(needed, list) else []
                    branch = self.remember(Branch(at, prefix, self.under(prefix, keys), frozenset(keys), ()))
                    yield Conditional(at, prefix, self.under(prefix, [name]), None, branch, None)
            elif key == "dependentSchemas" and isinstance(value, dict):
                for name, schema in value.items():
                    at = f"{pointer}/dependentSchemas/{escape(name)}"
                    yield Conditional(at, prefix, self.under(prefix, [name]), None,
                                      self.branch(schema, at, prefix, seen), None)
            elif key == "allOf" and isinstance(value, list):
                for i, member in enumerate(value):
                    if isinstance(member, dict):
                        at = f"{pointer}/allOf/{i}"
                        resolved, _origins, now_seen = resolve(self.document, member, at, seen)
                        yield from self.conditionals(resolved, at, prefix, now_seen)

    def branch(self, node: Any, pointer: str, prefix: Path, seen: tuple[str, ...]) -> Branch | None:
        if not isinstance(node, dict):
            return None
        schema, _origins, now_seen = resolve(self.document, node, pointer, seen)
        properties: Mapping[str, Any] = schema["properties"] if isinstance(schema.get("properties"), dict) else {}
        required: list[str] = [r for r in schema["required"] if isinstance(r, str)] \
            if isinstance(schema.get("required"), list) else []
        nested = tuple(self.conditionals(schema, pointer, prefix, now_seen))
        for name, sub in properties.items():  # objects a branch declares carry their own conditionals
            at = f"{pointer}/properties/{escape(name)}"
            resolved, _o, sub_seen = resolve(self.document, sub, at, now_seen)
            if is_object(resolved):
                nested += tuple(self.object(resolved, at, (*prefix, name), sub_seen))
        names = self.under(prefix, [*properties, *required])
        return self.remember(Branch(pointer, prefix, names, frozenset(required), nested))

    def remember(self, branch: Branch) -> Branch:
        self.branches.append(branch)
        return branch


def read_keys(test: Mapping[str, Any]) -> set[str]:
    """The properties of its object an `if` schema reads, wherever in it (properties, required, not, allOf...)."""
    return {key for _pointer, key in condition_reads(test, "")}


def condition_reads(test: Mapping[str, Any], pointer: str) -> Iterator[tuple[str, str]]:
    """(pointer, key) for each property of its object an `if` condition reads."""
    if isinstance(test.get("properties"), dict):
        yield from ((f"{pointer}/properties/{escape(k)}", k) for k in test["properties"])
    if isinstance(test.get("required"), list):
        yield from ((f"{pointer}/required/{i}", k) for i, k in enumerate(test["required"]) if isinstance(k, str))
    for word in ("dependentRequired", "dependentSchemas"):
        if isinstance(test.get(word), dict):
            yield from ((f"{pointer}/{word}/{escape(k)}", k) for k in test[word])
    if isinstance(test.get("not"), dict):
        yield from condition_reads(test["not"], f"{pointer}/not")
    for word in ("allOf", "anyOf", "oneOf"):
        if isinstance(test.get(word), list):
            for i, member in enumerate(test[word]):
                if isinstance(member, dict):
                    yield from condition_reads(member, f"{pointer}/{word}/{i}")

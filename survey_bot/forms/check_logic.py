"""Check a form's skip logic and field names: what the runtime cannot honour is an error, with a JSON pointer.

Supported, at the form's top level and inside nested objects: if/then/else, dependentRequired,
dependentSchemas, and allOf whose members are such conditionals (see forms.conditions). Rejected: a condition
or a branch that names a field the object does not have, a branch that redeclares a field with another type,
oneOf/anyOf used to branch, `not` outside an `if`, then/else without an if, and field names that would
collide with an export's metadata columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from survey_bot.forms.conditions import condition_reads
from survey_bot.forms.keypad import types_of
from survey_bot.forms.schema_walk import Leaf, escape, inline, is_object, nested_objects, resolve
from survey_bot.vocabulary import RESERVED_NAMES

__all__ = ["CONDITIONAL_KEYS", "logic_problems"]

Problem = tuple[str, str]
Path = tuple[str, ...]
CONDITIONAL_KEYS = frozenset({"if", "then", "else", "dependentRequired", "dependentSchemas", "allOf"})
_NOTES = frozenset({"$comment", "description", "title"})


def logic_problems(document: Mapping[str, Any], fields: list[Leaf]) -> list[Problem]:
    """Every problem of the form's conditionals and field names (raises RefError for a broken $ref)."""
    found = [(leaf.pointer, f"a field may not be called {leaf.path[-1]!r}: an export already has that column")
             for leaf in fields if len(leaf.path) == 1 and leaf.path[0] in RESERVED_NAMES]
    found += _Checker(document, fields).object(document, "", (), ())
    return found


class _Checker:
    def __init__(self, document: Mapping[str, Any], fields: list[Leaf]) -> None:
        self.document, self.fields = document, fields

    def keys(self, prefix: Path) -> dict[str, Leaf | None]:
        """The keys an object has (declared in properties or any branch): the leaf, or None for an object."""
        found: dict[str, Leaf | None] = {}
        for leaf in self.fields:
            if leaf.path[:len(prefix)] == prefix and len(leaf.path) > len(prefix):
                key = leaf.path[len(prefix)]
                found.setdefault(key, leaf if len(leaf.path) == len(prefix) + 1 else None)
        return found

    def object(self, obj: Mapping[str, Any], pointer: str, prefix: Path, seen: tuple[str, ...]) -> list[Problem]:
        """One object schema: its own conditionals, then its nested objects."""
        found = self.level(obj, pointer, prefix, seen)
        for schema, at, path, now_seen in nested_objects(self.document, obj, pointer, prefix, seen):
            found += self.object(schema, at, path, now_seen)
        return found

    def level(self, obj: Mapping[str, Any], pointer: str, prefix: Path, seen: tuple[str, ...]) -> list[Problem]:
        """The branching keywords of one object level (the object itself, a branch, an allOf member)."""
        found: list[Problem] = []
        keys = self.keys(prefix)
        for word in ("oneOf", "anyOf"):
            if word in obj:
                found.append((f"{pointer}/{word}", f"{word} cannot choose which questions to ask: use "
                                                   "if/then/else (or dependentRequired, dependentSchemas)"))
        if "not" in obj:
            found.append((f"{pointer}/not", "`not` is only supported inside an `if` condition"))
        for word in ("then", "else"):
            if word in obj and "if" not in obj:
                found.append((f"{pointer}/{word}", f"`{word}` without `if` never applies"))
        if isinstance(obj.get("if"), dict):
            test = inline(self.document, obj["if"], f"{pointer}/if", seen)
            found += [(at, f"the condition reads {key!r}, which is not a field here") for at, key in
                      condition_reads(test, f"{pointer}/if") if key not in keys]
            found += [(at, f"the condition reads {key!r}, a sensitive field: its answer is stored encrypted, so "
                           "the funnel and the exports could not follow the branch; ask it without x-sensitive")
                      for at, key in condition_reads(test, f"{pointer}/if") if _sensitive(keys.get(key))]
            for word in ("then", "else"):
                if isinstance(obj.get(word), dict):
                    found += self.branch(obj[word], f"{pointer}/{word}", prefix, seen)
        if isinstance(obj.get("dependentRequired"), dict):
            for name, needed in obj["dependentRequired"].items():
                at = f"{pointer}/dependentRequired/{escape(name)}"
                if name not in keys:
                    found.append((at, f"{name!r} is not a field here"))
                found += [(f"{at}/{i}", f"{key!r} is not a field here")
                          for i, key in enumerate(needed if isinstance(needed, list) else [])
                          if isinstance(key, str) and key not in keys]
        if isinstance(obj.get("dependentSchemas"), dict):
            for name, schema in obj["dependentSchemas"].items():
                at = f"{pointer}/dependentSchemas/{escape(name)}"
                if name not in keys:
                    found.append((at, f"{name!r} is not a field here"))
                if isinstance(schema, dict):
                    found += self.branch(schema, at, prefix, seen)
        if isinstance(obj.get("allOf"), list):
            for i, member in enumerate(obj["allOf"]):
                at = f"{pointer}/allOf/{i}"
                resolved, _origins, now_seen = resolve(self.document, member, at, seen)
                extra = sorted(set(resolved) - CONDITIONAL_KEYS - _NOTES - {"$ref"})
                if extra:
                    found.append((f"{at}/{escape(extra[0])}", "an allOf member of a form holds only conditionals "
                                                              "(if/then/else, dependentRequired, dependentSchemas)"))
                found += self.level(resolved, at, prefix, now_seen)
        return found

    def branch(self, node: dict[str, Any], pointer: str, prefix: Path, seen: tuple[str, ...]) -> list[Problem]:
        """A branch: its required names exist, its redeclarations keep the type, its own conditionals."""
        schema, _origins, now_seen = resolve(self.document, node, pointer, seen)
        keys = self.keys(prefix)
        required = schema.get("required")
        found = [(f"{pointer}/required/{i}", f"required {key!r} is not a field here")
                 for i, key in enumerate(required if isinstance(required, list) else [])
                 if isinstance(key, str) and key not in keys]
        properties = schema.get("properties")
        for name, sub in (properties.items() if isinstance(properties, dict) else ()):
            at = f"{pointer}/properties/{escape(name)}"
            declared, _o, sub_seen = resolve(self.document, sub, at, now_seen)
            first = keys.get(name)
            if first is not None and first.pointer != at:
                found += _redeclared(name, declared, first, at)
            elif first is None and name in keys and not is_object(declared) and types_of(declared):
                found.append((at, f"{name!r} is an object elsewhere in the form; a branch cannot make it a value"))
            if is_object(declared):
                if first is not None:
                    found.append((at, f"{name!r} is a value elsewhere in the form; a branch cannot make it an object"))
                else:
                    found += self.object(declared, at, (*prefix, name), sub_seen)
        return found + self.level(schema, pointer, prefix, now_seen)


def _redeclared(name: str, declared: Mapping[str, Any], first: Leaf, at: str) -> list[Problem]:
    """A branch may narrow a field (a smaller maximum, a shorter enum) but not give it another type."""
    old, new = types_of(first.schema), types_of(declared)
    if old and new and not old & new:
        return [(f"{at}/type", f"{name!r} is {' or '.join(sorted(old))} at {first.pointer}; a branch may narrow "
                               f"it but not make it {' or '.join(sorted(new))}")]
    return []


def _sensitive(leaf: Leaf | None) -> bool:
    return leaf is not None and leaf.schema.get("x-sensitive") not in (None, False)

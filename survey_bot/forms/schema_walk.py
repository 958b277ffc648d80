"""Walk a form's JSON Schema: subschema positions, local $refs followed and inlined, the leaf fields found.

Every walk reports where it is as a JSON pointer into the file, so problems found later can say where.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

__all__ = ["Leaf", "RefError", "branches", "escape", "inline", "is_object", "leaves", "lookup", "map_subschemas",
           "nested_objects", "pointer_of", "resolve", "walk"]

_ONE = ("items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames",
        "unevaluatedItems", "unevaluatedProperties", "contentSchema")


_MANY = ("allOf", "anyOf", "oneOf", "prefixItems")


_MAP = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")


class RefError(Exception):
    """A $ref that cannot be inlined: args are (pointer of the $ref, message)."""


@dataclass(frozen=True)
class Leaf:
    """A field as found in the document, before it becomes a forms.Field."""

    path: tuple[str, ...]
    schema: Mapping[str, Any]
    required: bool
    pointer: str  # where the property is declared
    origins: Mapping[str, str]  # top-level key -> pointer of the object holding it ($refs followed)
    keypad_off: bool  # an enclosing object says x-dtmf false

    def at(self, key: str) -> str:
        """Return the pointer of one of the leaf schema's own keys."""
        return f"{self.origins.get(key, self.pointer)}/{escape(key)}"


def escape(token: str) -> str:
    """Escape one JSON pointer reference token."""
    return token.replace("~", "~0").replace("/", "~1")


def pointer_of(parts: Iterator[Any] | Any) -> str:
    return "".join(f"/{escape(str(p))}" for p in parts)


def walk(schema: Any, pointer: str) -> Iterator[tuple[dict[str, Any], str]]:
    if isinstance(schema, dict):
        yield schema, pointer
        children: list[tuple[Any, str]] = []
        map_subschemas(schema, lambda child, at: children.append((child, at)), pointer)
        for child, at in children:
            yield from walk(child, at)


def lookup(document: Any, ref: Any, at: str) -> tuple[Any, str]:
    if not isinstance(ref, str) or not (ref == "#" or ref.startswith("#/")):
        raise RefError(at, f"only local $refs like '#/$defs/name' are supported, not {ref!r}")
    node, tokens = document, [unquote(t).replace("~1", "/").replace("~0", "~") for t in ref[2:].split("/")]
    for token in tokens if ref != "#" else []:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise RefError(at, f"$ref {ref!r} does not resolve: no {token!r}")
    return node, pointer_of(tokens) if ref != "#" else ""


Resolved = tuple[dict[str, Any], dict[str, str], tuple[str, ...]]


def resolve(document: Any, node: Any, pointer: str, seen: tuple[str, ...] = ()) -> Resolved:
    """Follow a chain of $refs: return the merged schema (siblings win), key origins, targets seen."""
    if not isinstance(node, dict):
        return {}, {}, seen
    if "$ref" not in node:
        return dict(node), {k: pointer for k in node}, seen
    target, target_pointer = lookup(document, node["$ref"], f"{pointer}/$ref")
    if target_pointer in seen:
        raise RefError(f"{pointer}/$ref", f"$ref {node['$ref']!r} is recursive; a phone form must be finite")
    base, origins, seen = resolve(document, target, target_pointer, (*seen, target_pointer))
    siblings = {k: v for k, v in node.items() if k != "$ref"}
    return {**base, **siblings}, {**origins, **dict.fromkeys(siblings, pointer)}, seen


def map_subschemas(schema: dict[str, Any], change: Callable[[Any, str], Any], pointer: str) -> dict[str, Any]:
    """Return a copy of `schema` with `change(subschema, pointer)` applied at every direct schema position."""
    out = dict(schema)
    for key in _ONE:
        if key in out:
            out[key] = change(out[key], f"{pointer}/{key}")
    for key in _MANY:
        if isinstance(out.get(key), list):
            out[key] = [change(s, f"{pointer}/{key}/{i}") for i, s in enumerate(out[key])]
    for key in _MAP:
        if isinstance(out.get(key), dict):
            out[key] = {n: change(s, f"{pointer}/{escape(key)}/{escape(n)}") for n, s in out[key].items()}
    return out


def inline(document: Any, node: Any, pointer: str = "", seen: tuple[str, ...] = ()) -> Any:
    """Return `node` with every $ref replaced by its target and $defs dropped (raises RefError)."""
    if not isinstance(node, dict):
        return node
    schema, _origins, seen = resolve(document, node, pointer, seen)
    schema.pop("$defs", None)
    schema.pop("definitions", None)
    return map_subschemas(schema, lambda child, at: inline(document, child, at, seen), pointer)


def is_object(schema: Mapping[str, Any]) -> bool:
    declared = schema.get("type", "object")
    return isinstance(schema.get("properties"), dict) and bool(schema["properties"]) and (
        declared == "object" or (isinstance(declared, list) and "object" in declared)
    )


def nested_objects(document: Any, obj: Mapping[str, Any], pointer: str, prefix: tuple[str, ...],
                   seen: tuple[str, ...]) -> Iterator[tuple[dict[str, Any], str, tuple[str, ...], tuple[str, ...]]]:
    """The object schemas an object's `properties` declare ($refs followed): (schema, pointer, path, seen)."""
    properties = obj.get("properties")
    for name, sub in (properties.items() if isinstance(properties, dict) else ()):
        at = f"{pointer}/properties/{escape(name)}"
        schema, _origins, now_seen = resolve(document, sub, at, seen)
        if is_object(schema):
            yield schema, at, (*prefix, name), now_seen


def leaves(document: Mapping[str, Any]) -> list[Leaf]:
    """Return the form's leaf fields depth first in form order (raises RefError): an object's properties in file
    order, then the fields its conditional branches declare, in the order the branches appear."""
    found: list[Leaf] = []
    _collect(document, document, "", (), True, False, (), found)
    return found


def branches(document: Any, obj: Mapping[str, Any], pointer: str,
             seen: tuple[str, ...] = ()) -> Iterator[tuple[str, dict[str, Any], tuple[str, ...]]]:
    """An object schema's conditional branches in file order, `then` before `else`: (pointer, the branch schema
    with its $ref followed, $refs seen) for if/then/else, each dependentSchemas entry, allOf members' branches,
    and the branches nested in those."""
    for key in obj:
        if key == "if":
            for part in ("then", "else"):
                if isinstance(obj.get(part), dict):
                    yield from _branch(document, obj[part], f"{pointer}/{part}", seen)
        elif key == "dependentSchemas" and isinstance(obj[key], dict):
            for name, schema in obj[key].items():
                if isinstance(schema, dict):
                    yield from _branch(document, schema, f"{pointer}/dependentSchemas/{escape(name)}", seen)
        elif key == "allOf" and isinstance(obj[key], list):
            for i, member in enumerate(obj[key]):
                if isinstance(member, dict):
                    at = f"{pointer}/allOf/{i}"
                    resolved, _origins, now_seen = resolve(document, member, at, seen)
                    yield from branches(document, resolved, at, now_seen)


def _branch(document: Any, node: dict[str, Any], at: str,
            seen: tuple[str, ...]) -> Iterator[tuple[str, dict[str, Any], tuple[str, ...]]]:
    schema, _origins, now_seen = resolve(document, node, at, seen)
    yield at, schema, now_seen
    yield from branches(document, schema, at, now_seen)


def _collect(document: Any, obj: Mapping[str, Any], pointer: str, prefix: tuple[str, ...],
             required: bool, keypad_off: bool, seen: tuple[str, ...], found: list[Leaf]) -> None:
    wanted: list[Any] = obj["required"] if isinstance(obj.get("required"), list) else []
    declared: set[str] = set()
    properties: Mapping[str, Any] = obj["properties"] if isinstance(obj.get("properties"), dict) else {}
    for name, sub in properties.items():
        _field(document, name, sub, f"{pointer}/properties/{escape(name)}", prefix, required and name in wanted,
               keypad_off, seen, found)
        declared.add(name)
    for at, branch, branch_seen in branches(document, obj, pointer, seen):
        more: Mapping[str, Any] = branch["properties"] if isinstance(branch.get("properties"), dict) else {}
        for name, sub in more.items():
            if name not in declared:  # (a branch may narrow a declared field; forms.check compares the two)
                _field(document, name, sub, f"{at}/properties/{escape(name)}", prefix, False, keypad_off,
                       branch_seen, found)
                declared.add(name)


def _field(document: Any, name: str, sub: Any, at: str, prefix: tuple[str, ...], required: bool, keypad_off: bool,
           seen: tuple[str, ...], found: list[Leaf]) -> None:
    schema, origins, now_seen = resolve(document, sub, at, seen)
    if is_object(schema):
        off = keypad_off or schema.get("x-dtmf") is False
        where = origins.get("properties", at)
        _collect(document, schema, where, (*prefix, name), required, off, now_seen, found)
        return
    leaf_schema = inline(document, schema, at, now_seen)
    found.append(Leaf((*prefix, name), leaf_schema, required, at, origins, keypad_off))

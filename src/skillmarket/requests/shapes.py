"""Compact JSON Schemas and their signatures, for matching at scale (pure, no I/O).

:func:`compact` strips annotations and inlines local ``$ref`` pointers, so the compatibility
checker never needs the root document. A ``$ref`` that cannot be inlined (remote, recursive, or
past the size budget) stays as ``{"$ref": …}``: the checker reports it as not proven.

A :class:`Shape` is the part of a schema a database can filter on: the root types as a bit mask
and the top-level property names. For a *producer* (a skill's output, a request's input) the
names are those it always sends (``required``); for a *consumer* (a skill's input, a request's
output) those it requires. A producer can only fit a consumer if its types are within the
consumer's and, when it sends objects, it sends every name the consumer requires: that
necessary condition is what the SQL pre-filter checks before the full check runs in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "default",
        "examples",
        "$comment",
        "readOnly",
        "writeOnly",
        "deprecated",
        "$schema",
        "$id",
        "$anchor",
        "$dynamicAnchor",
        "$defs",
        "definitions",
        "$vocabulary",
        "contentMediaType",
        "contentEncoding",
        "contentSchema",
    }
)
# Keywords whose value is one schema, a list of schemas, or a name → schema map.
ONE_SCHEMA = (
    "additionalProperties",
    "items",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
)
SCHEMA_LIST = ("allOf", "anyOf", "oneOf", "prefixItems")
SCHEMA_MAP = ("properties", "patternProperties", "dependentSchemas")

MAX_NODES = 2000  # inlining stops here: a schema of refs to refs can grow exponentially

# Root type bits. "number" as a type means integers too, so it sets both numeric bits.
BITS = {
    "null": 1,
    "boolean": 2,
    "integer": 4,
    "number": 4 | 8,
    "string": 16,
    "array": 32,
    "object": 64,
}
ALL = 127
OBJECT = BITS["object"]
_OBJECT_WORDS = {"properties", "required", "additionalProperties", "minProperties"}
_ARRAY_WORDS = {"items", "prefixItems", "minItems", "maxItems", "contains", "uniqueItems"}


def _pointer(root: Any, ref: str) -> Any:
    """The subschema at a local JSON pointer such as ``#/$defs/item``, or None."""
    node = root
    for raw in ref[1:].split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


class _Compactor:
    def __init__(self, root: Any):
        self.root = root
        self.nodes = 0

    def run(self, node: Any, expanding: tuple[str, ...]) -> Any:
        self.nodes += 1
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in ANNOTATIONS or key == "$ref":
                continue
            if key in ONE_SCHEMA:
                out[key] = self.run(value, expanding)
            elif key in SCHEMA_LIST and isinstance(value, list):
                out[key] = [self.run(v, expanding) for v in value]
            elif key in SCHEMA_MAP and isinstance(value, dict):
                out[key] = {k: self.run(v, expanding) for k, v in value.items()}
            else:
                out[key] = value
        ref = node.get("$ref")
        if isinstance(ref, str):
            target = self._resolve(ref, expanding)
            if not out:
                return target
            out["allOf"] = [*out.get("allOf", []), target]
        return out

    def _resolve(self, ref: str, expanding: tuple[str, ...]) -> Any:
        if not ref.startswith("#") or ref in expanding or self.nodes > MAX_NODES:
            return {"$ref": ref}
        target = self.root if ref in ("#", "#/") else _pointer(self.root, ref)
        if target is None:
            return {"$ref": ref}
        return self.run(target, (*expanding, ref))


def compact(schema: Any) -> Any:
    """``schema`` without annotations and with local ``$ref`` pointers inlined."""
    return _Compactor(schema).run(schema, ())


@dataclass(frozen=True)
class Shape:
    """Root type bits and top-level property names of one side of a schema."""

    types: int
    names: frozenset[str]


OPAQUE_PRODUCER = Shape(0, frozenset())  # unknown output: passes every pre-filter
OPAQUE_CONSUMER = Shape(ALL, frozenset())  # unknown input: accepts anything, requires nothing


def _as_dict(schema: Any) -> dict[str, Any] | bool:
    if schema is True:
        return {}
    return schema if isinstance(schema, dict) else False


def value_bits(value: Any) -> int:
    """The type bit of one JSON value."""
    if value is None:
        return BITS["null"]
    if isinstance(value, bool):
        return BITS["boolean"]
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return BITS["integer"]
    if isinstance(value, float):
        return 8
    if isinstance(value, str):
        return BITS["string"]
    return BITS["array"] if isinstance(value, list) else OBJECT


def type_bits(types: Any) -> int:
    """The bits of a ``type`` keyword (a name or a list of names)."""
    names = [types] if isinstance(types, str) else list(types)
    bits = 0
    for name in names:
        bits |= BITS.get(name, 0)
    return bits


def _values(schema: dict[str, Any]) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    if "enum" in schema:
        return list(schema["enum"])
    return None


def _own_bits(schema: dict[str, Any], *, producer: bool) -> int:
    values = _values(schema)
    if values is not None:
        bits = 0
        for value in values:
            bits |= value_bits(value)
        return bits
    if "type" in schema:
        return type_bits(schema["type"])
    if producer:
        # Read a producer without ``type`` by its keywords, as the checker does (with a caveat).
        if _OBJECT_WORDS & schema.keys():
            return OBJECT
        if _ARRAY_WORDS & schema.keys():
            return BITS["array"]
    return ALL


def _names(schema: dict[str, Any]) -> frozenset[str]:
    required = schema.get("required", [])
    return frozenset(n for n in required if isinstance(n, str))


def producer_shape(schema: Any) -> Shape:
    """What a compacted producer schema always gives: type bits and guaranteed names."""
    node = _as_dict(schema)
    if node is False:
        return OPAQUE_PRODUCER  # produces nothing: fits anything
    if "$ref" in node or "$dynamicRef" in node:
        return OPAQUE_PRODUCER
    bits, names = _own_bits(node, producer=True), set(_names(node))
    for branch in node.get("allOf", []):
        inner = producer_shape(branch)
        if inner.types:
            bits &= inner.types
        names |= inner.names
    for key in ("anyOf", "oneOf"):
        if key in node:
            shapes = [producer_shape(b) for b in node[key]]
            if any(s.types == 0 for s in shapes):
                return OPAQUE_PRODUCER
            union = 0
            for s in shapes:
                union |= s.types
            bits &= union
            objects = [s.names for s in shapes if s.types & OBJECT]
            if objects:
                names |= frozenset.intersection(*objects)
    if bits == 0:
        return OPAQUE_PRODUCER  # contradictory: an empty producer fits anything
    return Shape(bits, frozenset(names) if bits & OBJECT else frozenset())


def consumer_shape(schema: Any) -> Shape:
    """What a compacted consumer schema needs: accepted type bits and required names."""
    node = _as_dict(schema)
    if node is False:
        return Shape(0, frozenset())
    if "$ref" in node or "$dynamicRef" in node:
        return OPAQUE_CONSUMER
    bits, names = _own_bits(node, producer=False), set(_names(node))
    for branch in node.get("allOf", []):
        inner = consumer_shape(branch)
        bits &= inner.types
        names |= inner.names
    for key in ("anyOf", "oneOf"):
        if key in node:
            shapes = [consumer_shape(b) for b in node[key]]
            union = 0
            for s in shapes:
                union |= s.types
            bits &= union
            objects = [s.names for s in shapes if s.types & OBJECT]
            if objects:
                names |= frozenset.intersection(*objects)
    if "enum" in node or "const" in node:
        names = set()  # an enum of objects constrains values, not names we can index
    return Shape(bits, frozenset(names) if bits & OBJECT else frozenset())


def may_fit(producer: Shape, consumer: Shape) -> bool:
    """The necessary condition the pre-filter checks (the full check decides)."""
    if producer.types == 0:
        return True
    if producer.types & ~consumer.types:
        return False
    return not (producer.types & OBJECT) or consumer.names <= producer.names

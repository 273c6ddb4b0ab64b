"""Structural compatibility of two JSON Schemas: does everything a producer gives fit a consumer?

Pure (no I/O). "Producer" is the side that sends a value (a request's input, a skill's output),
"consumer" the side that receives it (a skill's input, a request's output). The rules, with
examples, are in docs/requests.md; in short:

1. Types: every type the producer may give is accepted; ``integer`` fits ``number``.
2. Objects: the producer guarantees (``required``) every property the consumer requires, and
   each property both declare fits, recursively. Hand-off passes only the properties the
   consumer declares, so extra producer properties and ``additionalProperties`` never block.
3. Arrays: producer ``items`` fit consumer ``items``.
4. Enums and ``const``: each producer value is valid for the consumer; a consumer enum needs a
   producer enum (or booleans/null) inside it.
5. ``allOf``/``anyOf``/``oneOf`` are followed; local ``$ref`` pointers are inlined first.
6. What is not modelled — an unresolved ``$ref``, a consumer's ``not``, ``if``, tuples, a value
   bound (``maxLength``, ``minimum``, ``pattern``, ``format``…) the producer does not also
   guarantee — gives a *caveat*: the match stands but is not proven.

A verdict is ``proven`` (fits, nothing unchecked), ``unproven`` (no conflict found, caveats
listed) or ``incompatible`` (a conflict, named with its path).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

import jsonschema

from skillmarket.requests import bounds
from skillmarket.requests.shapes import ANNOTATIONS, compact

MAX_DEPTH = 24
TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")
_FAMILY_WORDS = {
    "object": {"properties", "required", "additionalProperties", "minProperties"},
    "array": {"items", "prefixItems", "minItems", "maxItems", "contains", "uniqueItems"},
    "string": {"minLength", "maxLength", "pattern"},
    "number": {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"},
}
# Consumer keywords we do not model, by the type they constrain (None: any type).
_UNMODELLED = {
    None: ("not", "if", "then", "else", "$dynamicRef"),
    "object": (
        "patternProperties",
        "propertyNames",
        "dependentRequired",
        "dependentSchemas",
        "unevaluatedProperties",
    ),
    "array": ("contains", "unevaluatedItems"),
}

Status = Literal["proven", "unproven", "incompatible"]


@dataclass(frozen=True)
class PropertyMap:
    """One property handed from producer to consumer: its path and each side's type."""

    path: str
    source: str
    target: str


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check."""

    mappings: tuple[PropertyMap, ...]
    caveats: tuple[str, ...]
    conflicts: tuple[str, ...]

    @property
    def compatible(self) -> bool:
        """No conflict was found."""
        return not self.conflicts

    @property
    def proven(self) -> bool:
        """Compatible and nothing was left unchecked."""
        return not self.conflicts and not self.caveats

    @property
    def status(self) -> Status:
        """``proven``, ``unproven`` or ``incompatible``."""
        if self.conflicts:
            return "incompatible"
        return "unproven" if self.caveats else "proven"


@dataclass
class _Report:
    maps: list[PropertyMap] = field(default_factory=list)
    caveats: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)

    def caveat(self, path: str, text: str) -> None:
        self.caveats.append(f"{_where(path)}: {text}")

    def conflict(self, path: str, text: str) -> None:
        self.conflicts.append(f"{_where(path)}: {text}")

    def absorb(self, other: _Report) -> None:
        self.maps += other.maps
        self.caveats += other.caveats
        self.conflicts += other.conflicts


def _where(path: str) -> str:
    return f"`{path}`" if path else "the root"


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _unique(items: list[Any]) -> tuple[Any, ...]:
    return tuple(dict.fromkeys(items))


def check(producer: Any, consumer: Any) -> Verdict:
    """Does every value ``producer`` may give fit ``consumer``? (Raw schemas.)"""
    return check_compact(compact(producer), compact(consumer))


def check_compact(producer: Any, consumer: Any) -> Verdict:
    """:func:`check` on schemas already passed through :func:`~.shapes.compact`."""
    report = _Report()
    _check(producer, consumer, "", report, 0)
    return Verdict(_unique(report.maps), _unique(report.caveats), _unique(report.conflicts))


def _as_dict(schema: Any) -> dict[str, Any] | Literal[False]:
    if schema is True:
        return {}
    return schema if isinstance(schema, dict) else False


def _without(schema: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k not in keys}


def _check(a: Any, b: Any, path: str, rep: _Report, depth: int) -> None:
    if depth > MAX_DEPTH:
        rep.caveat(path, f"nested deeper than {MAX_DEPTH} levels; not checked")
        return
    a, b = _as_dict(a), _as_dict(b)
    if a is False:
        return  # the producer gives nothing here
    if b is False:
        rep.conflict(path, "the consumer accepts no value here")
        return
    if not (b.keys() - ANNOTATIONS):
        return  # the consumer accepts anything
    if "$ref" in a:
        rep.caveat(path, f"the producer's $ref {a['$ref']!r} is remote or recursive; not checked")
        return
    if "$ref" in b:
        rep.caveat(path, f"the consumer's $ref {b['$ref']!r} is remote or recursive; not checked")
        b = _without(b, "$ref")
    if "allOf" in b:
        for branch in b["allOf"]:
            _check(a, branch, path, rep, depth + 1)
        b = _without(b, "allOf")
    if "allOf" in a:
        a = _merge_all_of(a)
        if a is False:
            return
    for key in ("anyOf", "oneOf"):
        if key in a:
            own = _without(a, key)
            for branch in a[key]:
                merged = _merge(own, branch)
                if merged is not False:
                    _check(merged, b, path, rep, depth + 1)
            return
    for key in ("anyOf", "oneOf"):
        if key in b:
            _check_union(a, b[key], key, path, rep, depth)
            b = _without(b, key)
    if b.keys() - ANNOTATIONS:
        _check_plain(a, b, path, rep, depth)


# -- combinators ---------------------------------------------------------------------------


def _types(schema: dict[str, Any]) -> set[str] | None:
    declared = schema.get("type")
    if declared is None:
        return None
    return {declared} if isinstance(declared, str) else set(declared)


def _meet_types(x: set[str], y: set[str]) -> set[str]:
    out = x & y
    if "integer" in x and "number" in y or "number" in x and "integer" in y:
        out.add("integer")
    return out


def _merge(x: dict[str, Any], y: Any) -> dict[str, Any] | Literal[False]:
    """A producer meeting both ``x`` and ``y`` (a superset when a keyword cannot be merged)."""
    y = _as_dict(y)
    if y is False:
        return False
    y = _merge_all_of(y) if "allOf" in y else y
    if y is False:
        return False
    out = dict(x)
    for key, value in y.items():
        if key not in out:
            out[key] = value
        elif key == "type":
            out["type"] = sorted(_meet_types(_types(out) or set(TYPES), _types(y) or set(TYPES)))
        elif key == "required":
            out["required"] = sorted(set(out["required"]) | set(value))
        elif key == "properties":
            props = dict(out["properties"])
            for name, sub in value.items():
                props[name] = {"allOf": [props[name], sub]} if name in props else sub
            out["properties"] = props
        # any other clash keeps x's value: the result is a superset, which is sound for producers
    return out


def _merge_all_of(schema: dict[str, Any]) -> dict[str, Any] | Literal[False]:
    merged: dict[str, Any] | Literal[False] = _without(schema, "allOf")
    for branch in schema["allOf"]:
        if merged is False:
            return False
        merged = _merge(merged, branch)
    return merged


def _check_union(
    a: dict[str, Any], branches: list[Any], kind: str, path: str, rep: _Report, depth: int
) -> None:
    """The producer must fit one alternative (or, split by type, one per type)."""
    best: _Report | None = None
    chosen = -1
    for index, branch in enumerate(branches):
        trial = _Report()
        _check(a, branch, path, trial, depth + 1)
        if not trial.conflicts and (best is None or (best.caveats and not trial.caveats)):
            best, chosen = trial, index
    if best is None:
        types = _types(a)
        if types and len(types) > 1 and "enum" not in a and "const" not in a:
            for name in sorted(types):
                _check_union({**a, "type": name}, branches, kind, path, rep, depth)
            return
        rep.conflict(path, f"fits none of the consumer's {kind} alternatives")
        return
    rep.absorb(best)
    if kind == "oneOf" and not _exclusive(a, branches, chosen):
        rep.caveat(path, "the consumer's oneOf needs exactly one alternative; not proven")


def _exclusive(a: dict[str, Any], branches: list[Any], chosen: int) -> bool:
    mine = _types(a)
    if mine is None:
        return False
    for index, branch in enumerate(branches):
        other = _as_dict(branch)
        if index == chosen or other is False:
            continue
        theirs = _types(other)
        if theirs is None or _meet_types(set(mine), theirs):
            return False
    return True


# -- one plain schema against another --------------------------------------------------------


def _check_plain(a: dict[str, Any], b: dict[str, Any], path: str, rep: _Report, depth: int) -> None:
    values = _finite_values(a, b)
    if values is not None:
        _check_values(values, a, b, path, rep)
        return
    if "enum" in b or "const" in b:
        allowed = b["enum"] if "enum" in b else [b["const"]]
        rep.conflict(path, f"the consumer accepts only {_show(allowed)}; not guaranteed")
        return
    produced = _types(a)
    wanted = _types(b)
    if wanted is not None:
        if produced is None:
            produced = _inferred_types(a)
            if produced is None:
                rep.conflict(path, f"the producer may give any type; consumer wants {_fmt(wanted)}")
                return
            rep.caveat(path, f"the producer declares no type; read as {_fmt(produced)}")
        extra = {t for t in produced if not (t in wanted or t == "integer" and "number" in wanted)}
        if extra:
            rep.conflict(
                path, f"the producer may give {_fmt(extra)}; consumer wants {_fmt(wanted)}"
            )
            return
    live = set(TYPES) if produced is None else produced
    if path:
        rep.maps.append(PropertyMap(path, label(a), label(b)))
    if "object" in live:
        _check_object(a, b, path, rep, depth)
    if "array" in live:
        _check_array(a, b, path, rep, depth)
    caveats = []
    if "string" in live:
        caveats += bounds.string_caveats(a, b)
    if live & {"integer", "number"}:
        caveats += bounds.number_caveats(a, b, integers_only="number" not in live)
    for text in caveats:
        rep.caveat(path, text)
    for keyword in _UNMODELLED[None]:
        if keyword in b:
            rep.caveat(path, f"the consumer's `{keyword}` is not checked")


def _inferred_types(schema: dict[str, Any]) -> set[str] | None:
    families = {name for name, words in _FAMILY_WORDS.items() if words & schema.keys()}
    return families if len(families) == 1 else None


def _finite_values(a: dict[str, Any], b: dict[str, Any]) -> list[Any] | None:
    if "const" in a:
        return [a["const"]]
    if "enum" in a:
        return list(a["enum"])
    types = _types(a)
    if ("enum" in b or "const" in b) and types and types <= {"boolean", "null"}:
        return [
            v for t, vs in (("boolean", [False, True]), ("null", [None])) if t in types for v in vs
        ]
    return None


def _valid(value: Any, schema: dict[str, Any]) -> bool | None:
    try:
        return jsonschema.Draft202012Validator(schema).is_valid(value)
    except Exception:  # noqa: BLE001  (an unresolved $ref or a bad regex: we cannot tell)
        return None


def _check_values(values: list[Any], a: dict[str, Any], b: dict[str, Any], path, rep) -> None:
    bad, unknown = [], False
    for value in values:
        if _valid(value, a) is False:
            continue  # the producer's own schema rules this value out
        fits = _valid(value, b)
        if fits is None:
            unknown = True
        elif not fits:
            bad.append(value)
    if bad:
        rep.conflict(path, f"the producer may give {_show(bad)}, which the consumer refuses")
    elif unknown:
        rep.caveat(path, "could not validate the producer's values against the consumer")
    elif path:
        rep.maps.append(PropertyMap(path, label(a), label(b)))


def _check_object(a: dict[str, Any], b: dict[str, Any], path: str, rep: _Report, depth: int):
    a_props, b_props = a.get("properties", {}), b.get("properties", {})
    a_req, b_req = set(a.get("required", [])), set(b.get("required", []))
    for name in sorted(b_req - a_req):
        hint = " (the producer declares it as optional)" if name in a_props else ""
        rep.conflict(_join(path, name), f"required by the consumer, not guaranteed{hint}")
    for name in sorted(b_props):
        if name in a_props:
            source = a_props[name]
        elif name in a_req:
            source = a.get("additionalProperties", True)
        else:
            continue  # the producer does not send it
        _check(source, b_props[name], _join(path, name), rep, depth + 1)
    if "minProperties" in b and len(a_req) < b["minProperties"]:
        rep.caveat(path, f"the consumer needs at least {b['minProperties']} properties")
    handed = (a_req | a_props.keys()) & b_props.keys()
    if "maxProperties" in b and len(handed) > b["maxProperties"]:
        rep.caveat(path, f"the consumer takes at most {b['maxProperties']} properties")
    for keyword in _UNMODELLED["object"]:
        if keyword in b:
            rep.caveat(path, f"the consumer's `{keyword}` is not checked")


def _check_array(a: dict[str, Any], b: dict[str, Any], path: str, rep: _Report, depth: int):
    if "prefixItems" in a or "prefixItems" in b:
        rep.caveat(path, "tuple schemas (prefixItems) are not checked")
    else:
        _check(a.get("items", True), b.get("items", True), path + "[]", rep, depth + 1)
    for text in bounds.array_caveats(a, b):
        rep.caveat(path, text)
    for keyword in _UNMODELLED["array"]:
        if keyword in b:
            rep.caveat(path, f"the consumer's `{keyword}` is not checked")


# -- labels ----------------------------------------------------------------------------------


def _fmt(types: set[str]) -> str:
    return "|".join(t for t in TYPES if t in types)


def _show(values: list[Any]) -> str:
    text = ", ".join(json.dumps(v, sort_keys=True) for v in values[:5])
    return text + (", …" if len(values) > 5 else "")


def label(schema: Any) -> str:
    """A short human label for a schema's type: ``integer``, ``array<string>``, ``one of 3``."""
    node = _as_dict(schema)
    if node is False:
        return "nothing"
    if "const" in node:
        return _show([node["const"]])
    if "enum" in node:
        return f"one of {_show(list(node['enum']))}"
    types = _types(node) or _inferred_types(node)
    if not types:
        return "any"
    text = _fmt(types)
    if types == {"array"} and isinstance(node.get("items"), dict | bool):
        text = f"array<{label(node['items'])}>"
    return text

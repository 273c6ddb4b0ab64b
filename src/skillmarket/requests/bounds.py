"""Value bounds in compatibility checks: lengths, sizes, ranges, steps, patterns (pure).

A consumer's bound the producer does not also guarantee is not a conflict but a *caveat*: most
real values fit, yet the fit is not proven. Each function returns the caveat texts.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

Bound = tuple[Fraction, bool]  # (value, exclusive)


def _sizes(a: dict[str, Any], b: dict[str, Any], low: str, high: str) -> list[str]:
    out = []
    if low in b and a.get(low, 0) < b[low]:
        out.append(f"the consumer needs {low} {b[low]}; not guaranteed")
    if high in b and (high not in a or a[high] > b[high]):
        out.append(f"the consumer needs {high} {b[high]}; not guaranteed")
    return out


def string_caveats(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Length bounds, and a ``pattern`` or ``format`` the producer does not state identically."""
    out = _sizes(a, b, "minLength", "maxLength")
    for keyword in ("pattern", "format"):
        if keyword in b and a.get(keyword) != b[keyword]:
            out.append(f"the consumer needs {keyword} {b[keyword]!r}; not guaranteed")
    return out


def array_caveats(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Item-count bounds and ``uniqueItems``."""
    out = _sizes(a, b, "minItems", "maxItems")
    if b.get("uniqueItems") and not a.get("uniqueItems"):
        out.append("the consumer needs unique items; not guaranteed")
    return out


def bound(schema: dict[str, Any], side: str) -> Bound | None:
    """The tightest lower (``side="low"``) or upper bound of a numeric schema, if any."""
    plain, strict = (
        ("minimum", "exclusiveMinimum") if side == "low" else ("maximum", "exclusiveMaximum")
    )
    found: list[Bound] = []
    for keyword, exclusive in ((plain, False), (strict, True)):
        value = schema.get(keyword)
        if isinstance(value, int | float) and not isinstance(value, bool):
            found.append((Fraction(str(value)), exclusive))
    if not found:
        return None
    if side == "low":
        return max(found, key=lambda f: (f[0], f[1]))
    return min(found, key=lambda f: (f[0], not f[1]))


def within(mine: Bound | None, theirs: Bound | None, side: str) -> bool:
    """Is the producer's bound at least as tight as the consumer's?"""
    if theirs is None:
        return True
    if mine is None:
        return False
    (value, exclusive), (limit, limit_exclusive) = mine, theirs
    if value != limit:
        return value > limit if side == "low" else value < limit
    return exclusive or not limit_exclusive


def number_caveats(a: dict[str, Any], b: dict[str, Any], *, integers_only: bool) -> list[str]:
    """Range bounds and ``multipleOf`` (every integer is a multiple of 1/n)."""
    out = []
    for side, word in (("low", "minimum"), ("high", "maximum")):
        theirs = bound(b, side)
        if theirs is not None and not within(bound(a, side), theirs, side):
            out.append(f"the consumer needs a {word} of {theirs[0]}; not guaranteed")
    step = b.get("multipleOf")
    if step is None:
        return out
    mine = a.get("multipleOf")
    if mine is not None and (Fraction(str(mine)) / Fraction(str(step))).denominator == 1:
        return out
    if integers_only and (1 / Fraction(str(step))).denominator == 1:
        return out
    out.append(f"the consumer needs multiples of {step}; not guaranteed")
    return out

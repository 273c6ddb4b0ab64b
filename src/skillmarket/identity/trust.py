"""Trust levels: does a passport's identity claims meet a skill's required level? (pure, no I/O)

The levels are the seed's, exactly:

- ``L0``: any valid passport.
- ``L1``: the passport carries ``verified_human`` with assurance at least ``substantial``.
- ``L2``: the passport carries ``verified_identity`` with assurance ``high``.

Assurance is the eIDAS scale ``low < substantial < high``. Each level names one claim and a
minimum assurance, and nothing else: ``L2`` does not also demand ``verified_human``, so a passport
with only ``verified_identity=high`` meets L0 and L2 but not L1 (see :func:`levels_met`).

Verifying the passport itself (signature, expiry, revocation) is done by
:mod:`skillmarket.identity.passports`; this module only decides over the verified claims.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from skillmarket.identity.errors import TrustLevelInsufficient, TrustLevelInvalid

__all__ = [
    "IDENTITY_CLAIMS",
    "REQUIREMENTS",
    "VERIFIED_HUMAN",
    "VERIFIED_IDENTITY",
    "Assurance",
    "TrustDecision",
    "TrustLevel",
    "TrustRequirement",
    "check_trust",
    "levels_met",
    "require_trust",
]

VERIFIED_HUMAN = "verified_human"
VERIFIED_IDENTITY = "verified_identity"
#: Every identity claim a passport may carry, in a stable order.
IDENTITY_CLAIMS: tuple[str, ...] = (VERIFIED_HUMAN, VERIFIED_IDENTITY)


class Assurance(StrEnum):
    """How strongly a claim was verified (eIDAS levels of assurance), ordered low to high."""

    LOW = "low"
    SUBSTANTIAL = "substantial"
    HIGH = "high"

    @property
    def rank(self) -> int:
        """0 for low, 1 for substantial, 2 for high: compare assurances by rank."""
        return _RANK[self]


_RANK = {Assurance.LOW: 0, Assurance.SUBSTANTIAL: 1, Assurance.HIGH: 2}


class TrustLevel(StrEnum):
    """The level a skill requires of its caller's passport."""

    L0 = "L0"
    L1 = "L1"
    L2 = "L2"

    @classmethod
    def parse(cls, value: TrustLevel | str) -> TrustLevel:
        """``value`` as a level, or :class:`TrustLevelInvalid` naming the allowed values."""
        try:
            return cls(value)
        except ValueError:
            raise TrustLevelInvalid(
                f"unknown trust level {value!r}; expected one of L0, L1, L2",
                details={"trust_level": str(value)[:50], "allowed": [lv.value for lv in cls]},
            ) from None


@dataclass(frozen=True, slots=True)
class TrustRequirement:
    """What a level demands: one claim at a minimum assurance, or nothing (L0)."""

    claim: str | None
    assurance: Assurance | None


#: The seed's levels as data.
REQUIREMENTS: Mapping[TrustLevel, TrustRequirement] = {
    TrustLevel.L0: TrustRequirement(None, None),
    TrustLevel.L1: TrustRequirement(VERIFIED_HUMAN, Assurance.SUBSTANTIAL),
    TrustLevel.L2: TrustRequirement(VERIFIED_IDENTITY, Assurance.HIGH),
}


@dataclass(frozen=True, slots=True)
class TrustDecision:
    """The outcome of :func:`check_trust`.

    ``missing_claim`` is set only when denied: the claim that is absent or held at too low an
    assurance. ``required_assurance`` and ``held_assurance`` are filled whenever the level names a
    claim, so a caller can show "you hold low, substantial is needed".
    """

    allowed: bool
    required_level: TrustLevel
    missing_claim: str | None
    required_assurance: Assurance | None
    held_assurance: Assurance | None

    def details(self) -> dict[str, Any]:
        """The decision as JSON-safe data (the ``details`` of ``TRUST_LEVEL_INSUFFICIENT``)."""
        return {
            "required_level": self.required_level.value,
            "missing_claim": self.missing_claim,
            "required_assurance": _value(self.required_assurance),
            "held_assurance": _value(self.held_assurance),
        }


def check_trust(
    passport_claims: Mapping[str, Assurance | str | None], required_level: TrustLevel | str
) -> TrustDecision:
    """Decide whether claims (claim name to assurance) meet ``required_level``.

    ``passport_claims`` is typically :attr:`VerifiedPassport.assurances`; claim names other than
    the identity claims are ignored, a ``None`` value counts as absent. An assurance string
    outside low/substantial/high raises :class:`ValueError`: claims reaching this function have
    already been validated, so that is a programming error, never a reason to allow.
    """
    level = TrustLevel.parse(required_level)
    requirement = REQUIREMENTS[level]
    if requirement.claim is None or requirement.assurance is None:
        return TrustDecision(True, level, None, None, None)
    raw = passport_claims.get(requirement.claim)
    held = None if raw is None else Assurance(raw)
    allowed = held is not None and held.rank >= requirement.assurance.rank
    return TrustDecision(
        allowed=allowed,
        required_level=level,
        missing_claim=None if allowed else requirement.claim,
        required_assurance=requirement.assurance,
        held_assurance=held,
    )


def require_trust(
    passport_claims: Mapping[str, Assurance | str | None], required_level: TrustLevel | str
) -> TrustDecision:
    """Like :func:`check_trust`, but raise :class:`TrustLevelInsufficient` when denied."""
    decision = check_trust(passport_claims, required_level)
    if not decision.allowed:
        held = decision.held_assurance
        raise TrustLevelInsufficient(
            f"trust level {decision.required_level} needs {decision.missing_claim} with "
            f"assurance {_minimum(decision)}; the passport "
            + (f"holds {held.value}" if held else "does not carry it"),
            details=decision.details(),
        )
    return decision


def levels_met(passport_claims: Mapping[str, Assurance | str | None]) -> tuple[TrustLevel, ...]:
    """Every level the claims meet, in order (always includes L0).

    A set, not a single "highest level", because the levels are not nested (module docstring).
    """
    return tuple(lv for lv in TrustLevel if check_trust(passport_claims, lv).allowed)


def _minimum(decision: TrustDecision) -> str:
    required = decision.required_assurance
    if required is Assurance.HIGH:
        return "high"
    return f"at least {_value(required)}"


def _value(assurance: Assurance | None) -> str | None:
    return None if assurance is None else assurance.value

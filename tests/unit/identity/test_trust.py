"""Trust levels: the seed's matrix, the decision's details and monotonicity in assurance."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from skillmarket.errors import Forbidden, InvalidInput
from skillmarket.identity.errors import TrustLevelInsufficient, TrustLevelInvalid
from skillmarket.identity.trust import (
    IDENTITY_CLAIMS,
    VERIFIED_HUMAN,
    VERIFIED_IDENTITY,
    Assurance,
    TrustLevel,
    check_trust,
    levels_met,
    require_trust,
)

HELD = [None, Assurance.LOW, Assurance.SUBSTANTIAL, Assurance.HIGH]


def _claims(human: Assurance | None, identity: Assurance | None) -> dict[str, Assurance]:
    claims = {}
    if human is not None:
        claims[VERIFIED_HUMAN] = human
    if identity is not None:
        claims[VERIFIED_IDENTITY] = identity
    return claims


def _expected(human: Assurance | None, identity: Assurance | None, level: TrustLevel) -> bool:
    # The seed, written out: L0 any valid passport; L1 verified_human >= substantial;
    # L2 verified_identity == high.
    if level is TrustLevel.L0:
        return True
    if level is TrustLevel.L1:
        return human in (Assurance.SUBSTANTIAL, Assurance.HIGH)
    return identity is Assurance.HIGH


class TestCheckTrust:
    @pytest.mark.parametrize(
        ("human", "identity", "level"), itertools.product(HELD, HELD, list(TrustLevel))
    )
    def test_matrix_matches_seed(self, human, identity, level):
        decision = check_trust(_claims(human, identity), level)
        assert decision.allowed is _expected(human, identity, level)
        assert decision.required_level is level

    def test_l0_allows_a_passport_without_claims(self):
        decision = check_trust({}, "L0")
        assert decision.allowed
        assert decision.details() == {
            "required_level": "L0",
            "missing_claim": None,
            "required_assurance": None,
            "held_assurance": None,
        }

    def test_check_fails_claim_absent(self):
        decision = check_trust({}, TrustLevel.L1)
        assert not decision.allowed
        assert decision.missing_claim == VERIFIED_HUMAN
        assert decision.required_assurance is Assurance.SUBSTANTIAL
        assert decision.held_assurance is None

    def test_check_fails_assurance_too_low(self):
        decision = check_trust({VERIFIED_IDENTITY: "substantial"}, "L2")
        assert not decision.allowed
        assert decision.missing_claim == VERIFIED_IDENTITY
        assert decision.required_assurance is Assurance.HIGH
        assert decision.held_assurance is Assurance.SUBSTANTIAL

    def test_allowed_decision_reports_what_is_held(self):
        decision = check_trust({VERIFIED_HUMAN: Assurance.HIGH}, "L1")
        assert decision.allowed and decision.missing_claim is None
        assert decision.held_assurance is Assurance.HIGH

    def test_identity_high_alone_meets_l2_but_not_l1(self):
        # The levels are not nested: each names its own claim (see the module docstring).
        assert levels_met({VERIFIED_IDENTITY: "high"}) == (TrustLevel.L0, TrustLevel.L2)

    def test_unrelated_claims_are_ignored(self):
        assert levels_met({"favourite_colour": "blue", VERIFIED_HUMAN: None}) == (TrustLevel.L0,)

    def test_check_fails_unknown_level(self):
        with pytest.raises(TrustLevelInvalid) as info:
            check_trust({}, "L3")
        assert isinstance(info.value, InvalidInput)
        assert info.value.code == "TRUST_LEVEL_INVALID"
        assert info.value.details["allowed"] == ["L0", "L1", "L2"]

    def test_check_fails_unknown_assurance_value(self):
        with pytest.raises(ValueError):
            check_trust({VERIFIED_HUMAN: "very high"}, "L1")


class TestRequireTrust:
    def test_require_fails_with_seed_code_and_details(self):
        with pytest.raises(TrustLevelInsufficient) as info:
            require_trust({VERIFIED_HUMAN: "low"}, "L1")
        error = info.value
        assert isinstance(error, Forbidden)
        assert (error.code, error.status) == ("TRUST_LEVEL_INSUFFICIENT", 403)
        assert error.to_dict() == {
            "error": {
                "code": "TRUST_LEVEL_INSUFFICIENT",
                "message": "trust level L1 needs verified_human with assurance at least "
                "substantial; the passport holds low",
                "details": {
                    "required_level": "L1",
                    "missing_claim": "verified_human",
                    "required_assurance": "substantial",
                    "held_assurance": "low",
                },
            }
        }

    def test_require_fails_claim_absent(self):
        with pytest.raises(TrustLevelInsufficient) as info:
            require_trust({}, "L2")
        assert info.value.details["missing_claim"] == "verified_identity"
        assert info.value.details["required_assurance"] == "high"
        assert info.value.details["held_assurance"] is None
        assert "does not carry it" in info.value.message

    def test_require_returns_allowed_decision(self):
        assert require_trust({VERIFIED_IDENTITY: "high"}, "L2").allowed


claims_strategy = st.dictionaries(
    st.sampled_from(IDENTITY_CLAIMS), st.sampled_from(list(Assurance)), max_size=2
)


@given(
    claims=claims_strategy,
    level=st.sampled_from(list(TrustLevel)),
    name=st.sampled_from(IDENTITY_CLAIMS),
    raised_to=st.sampled_from(list(Assurance)),
)
def test_higher_assurance_never_lowers_the_decision(claims, level, name, raised_to):
    held = claims.get(name)
    if held is not None and raised_to.rank < held.rank:
        raised_to = held  # only ever raise (or add) the claim
    before = check_trust(claims, level)
    after = check_trust({**claims, name: raised_to}, level)
    assert after.allowed >= before.allowed
    if before.allowed:
        assert after.missing_claim is None

"""How matches and chains are scored (pure). The weights are documented in docs/requests.md.

A match's score is a weighted sum of four parts, each 0–1: text relevance of the skill to the
request, cheapness (1 − price / max price), fit (1 when proven, 0.5 when a caveat leaves part
unchecked) and rating: the skill's ranking score (every version's ratings, recency-weighted and
shrunk towards neutral; see :mod:`skillmarket.reputation.models`) mapped from 1–5 onto 0–1, as
a :class:`RatingSource` gives it. An unrated skill counts as neutral (:data:`UNRATED`), so it
ranks below well-rated skills and above badly rated ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Weights:
    """The weight of each part of a score; they sum to 1."""

    relevance: float = 0.4
    price: float = 0.15
    fit: float = 0.3
    rating: float = 0.15


WEIGHTS = Weights()
UNPROVEN_FIT = 0.5
UNRATED = 0.5  # the rating part of a skill nobody rated: neutral, 3 on the 1–5 scale
STEP_PENALTY = 1.0  # a chain with one step more always ranks below one with one step fewer


class RatingSource(Protocol):
    """Where ratings come from: a 0–1 score per skill id (absent: unrated)."""

    def scores(self, skill_ids: Iterable[str]) -> dict[str, float]:
        """Rating scores of those of ``skill_ids`` that have any."""


def cheapness(price_cents: int, max_price_cents: int) -> float:
    """1 for free, 0 at the maximum price."""
    if max_price_cents <= 0:
        return 1.0
    return max(0.0, 1.0 - price_cents / max_price_cents)


def match_score(
    relevance: float, price_cents: int, max_price_cents: int, proven: bool, rating: float = UNRATED
) -> float:
    """The score of one matching skill, 0–1."""
    fit = 1.0 if proven else UNPROVEN_FIT
    return round(
        WEIGHTS.relevance * relevance
        + WEIGHTS.price * cheapness(price_cents, max_price_cents)
        + WEIGHTS.fit * fit
        + WEIGHTS.rating * rating,
        6,
    )


def prescore(relevance: float, price_cents: int, max_price_cents: int) -> float:
    """The order candidates are checked in, before their fit is known."""
    return WEIGHTS.relevance * relevance + WEIGHTS.price * cheapness(price_cents, max_price_cents)


def chain_score(
    relevances: list[float],
    total_price_cents: int,
    max_price_cents: int,
    proven: bool,
    ratings: list[float] | None = None,
) -> float:
    """The score of a chain: its steps' mean relevance and rating, minus a per-step penalty."""
    mean = sum(relevances) / len(relevances)
    rating = sum(ratings) / len(ratings) if ratings else UNRATED
    single = match_score(mean, total_price_cents, max_price_cents, proven, rating)
    return round(single - STEP_PENALTY * (len(relevances) - 2), 6)

"""How matches and chains are scored (pure). The weights are documented in docs/requests.md.

A match's score is a weighted sum of four parts, each 0–1: text relevance of the skill to the
request, cheapness (1 − price / max price), fit (1 when proven, 0.5 when a caveat leaves part
unchecked) and rating. Ratings do not exist yet: :data:`WEIGHTS.rating` is 0 and the rating
part is whatever a :class:`RatingSource` says (none is wired yet).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Weights:
    """The weight of each part of a score; they sum to 1."""

    relevance: float = 0.5
    price: float = 0.2
    fit: float = 0.3
    rating: float = 0.0  # TODO(ratings): give ratings weight once they exist (issue 9)


WEIGHTS = Weights()
UNPROVEN_FIT = 0.5
STEP_PENALTY = 1.0  # a chain with one step more always ranks below one with one step fewer


class RatingSource(Protocol):
    """Where ratings will come from: a 0–1 score per skill id (absent: unrated)."""

    def scores(self, skill_ids: Iterable[str]) -> dict[str, float]:
        """Rating scores of those of ``skill_ids`` that have any."""


def cheapness(price_cents: int, max_price_cents: int) -> float:
    """1 for free, 0 at the maximum price."""
    if max_price_cents <= 0:
        return 1.0
    return max(0.0, 1.0 - price_cents / max_price_cents)


def match_score(
    relevance: float, price_cents: int, max_price_cents: int, proven: bool, rating: float = 0.0
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
    rating = sum(ratings) / len(ratings) if ratings else 0.0
    single = match_score(mean, total_price_cents, max_price_cents, proven, rating)
    return round(single - STEP_PENALTY * (len(relevances) - 2), 6)

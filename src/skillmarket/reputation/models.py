"""Ratings: the body of a new rating, the views, and the summary math (pure, no I/O).

A summary of ratings ``(score_i, time_i)`` has:

- ``count``, ``mean`` and the ``distribution`` of scores 1..5;
- ``weighted_mean``, the recency-weighted mean: each rating weighs ``2 ** (-age / half_life)``,
  so a rating one half-life older than another counts half as much. Because every weight
  shrinks by the same factor as time passes, this mean only changes when a rating arrives;
- ``score``, the ranking score: the weighted mean pulled towards the neutral
  :data:`PRIOR_MEAN` as if :data:`PRIOR_WEIGHT` neutral ratings were added,
  ``(count * weighted_mean + PRIOR_WEIGHT * PRIOR_MEAN) / (count + PRIOR_WEIGHT)``, so one
  5-star rating does not outrank fifty 4.8-star ones, and an unrated skill (which ranks as
  :data:`PRIOR_MEAN`) sits between good and bad ones.

:class:`Totals` holds these as running sums that one more rating updates in O(1), which is
how they are stored per skill version and per skill (see :mod:`skillmarket.reputation.totals`).
The weights are kept relative to the newest rating (the ``anchor``), so they never overflow.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from skillmarket.ids import has_prefix
from skillmarket.reputation.errors import RatersInvalid, RatingScoreInvalid

MIN_SCORE, MAX_SCORE = 1, 5
MAX_COMMENT = 1000
MAX_RATERS = 100
PRIOR_MEAN = 3.0
PRIOR_WEIGHT = 3.0
DEFAULT_HALF_LIFE = timedelta(days=30)

# Custom pydantic error types of the rating body; the API renders each as its upper-cased code.
ERROR_TYPES = frozenset({"rating_score_invalid", "rating_comment_invalid"})

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_OPERATOR_ID = re.compile(r"^op_[a-z0-9]{1,40}$")


class RatingDraft(BaseModel):
    """What a buyer sends to rate a completed invocation (``POST /v1/skills/{id}/rate``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    invocation_id: str = Field(
        min_length=1, max_length=64, description="Your completed invocation of this skill (sinv_…)"
    )
    score: int = Field(ge=MIN_SCORE, le=MAX_SCORE, description="1 (worst) to 5 (best)")
    comment: str | None = Field(
        None, description=f"Optional text, at most {MAX_COMMENT} characters, shown publicly"
    )

    @field_validator("score", mode="before")
    @classmethod
    def _whole_score(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise PydanticCustomError(
                "rating_score_invalid", "score must be a whole number from 1 to 5"
            )
        if not MIN_SCORE <= value <= MAX_SCORE:
            raise PydanticCustomError(
                "rating_score_invalid", "score must be a whole number from 1 to 5"
            )
        return value

    @field_validator("comment", mode="before")
    @classmethod
    def _plain_comment(cls, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            raise PydanticCustomError("rating_comment_invalid", "comment must be text")
        value = value.strip()
        if len(value) > MAX_COMMENT:
            raise PydanticCustomError(
                "rating_comment_invalid", f"comment is longer than {MAX_COMMENT} characters"
            )
        if _CONTROL.search(value):
            raise PydanticCustomError("rating_comment_invalid", "comment holds control characters")
        return value or None


def check_score(score: int) -> int:
    """``score`` if it is a valid rating score, else ``RATING_SCORE_INVALID``."""
    if isinstance(score, bool) or not isinstance(score, int) or not MIN_SCORE <= score <= MAX_SCORE:
        raise RatingScoreInvalid("score must be a whole number from 1 to 5")
    return score


def check_raters(ids: Iterable[str]) -> tuple[str, ...]:
    """A ``raters`` whitelist, de-duplicated in order, or ``RATERS_INVALID``.

    An empty whitelist is refused rather than read as "nobody", like ERC-8004's getSummary.
    """
    unique = tuple(dict.fromkeys(ids))
    if not unique:
        raise RatersInvalid("raters must name at least one operator id (op_…)")
    if len(unique) > MAX_RATERS:
        raise RatersInvalid(
            f"raters names more than {MAX_RATERS} operators", details={"max": MAX_RATERS}
        )
    bad = [
        i
        for i in unique
        if not (isinstance(i, str) and has_prefix(i, "operator") and _OPERATOR_ID.match(i))
    ]
    if bad:
        raise RatersInvalid(
            "raters must be operator ids (op_…)",
            details={"invalid": [str(b)[:40] for b in bad[:5]]},
        )
    return unique


def parse_raters(text: str | None) -> tuple[str, ...] | None:
    """The operator ids of a comma-separated ``raters`` whitelist, or ``None`` for everyone."""
    if text is None:
        return None
    return check_raters(p.strip() for p in text.split(",") if p.strip())


def decay(age: timedelta, half_life: timedelta) -> float:
    """The weight of a rating ``age`` older than the reference point: 1, halving per half-life."""
    return 2.0 ** (-max(age, timedelta(0)) / half_life)


def rank_score(count: int, weighted_mean: float | None) -> float:
    """The ranking score: the weighted mean shrunk towards :data:`PRIOR_MEAN` (1–5)."""
    if not count or weighted_mean is None:
        return PRIOR_MEAN
    return (count * weighted_mean + PRIOR_WEIGHT * PRIOR_MEAN) / (count + PRIOR_WEIGHT)


def unit_score(score: float) -> float:
    """A 1–5 ranking score as 0–1 (what request matching weighs)."""
    return (score - MIN_SCORE) / (MAX_SCORE - MIN_SCORE)


def _clamp(value: float) -> float:
    # Float sums can stray a hair outside the scale; a mean never may.
    return min(float(MAX_SCORE), max(float(MIN_SCORE), value))


@dataclass(frozen=True)
class Totals:
    """Running sums of a set of ratings; :meth:`add` folds in one more.

    ``weight`` and ``weighted_total`` are the sums of ``w_i`` and ``w_i * score_i`` with
    ``w_i = decay(anchor - time_i)``; ``anchor`` is the newest rating's time.
    """

    count: int = 0
    total: int = 0
    distribution: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)
    weight: float = 0.0
    weighted_total: float = 0.0
    anchor: datetime | None = None

    def add(self, score: int, at: datetime, half_life: timedelta) -> Totals:
        """These totals with one more rating of ``score`` made at ``at``."""
        check_score(score)
        counts = list(self.distribution)
        counts[score - 1] += 1
        if self.anchor is None or at >= self.anchor:
            # The new rating is the newest: it weighs 1, the older ones shrink to match.
            keep = decay(at - self.anchor, half_life) if self.anchor is not None else 0.0
            weight, weighted, anchor = self.weight * keep + 1.0, self.weighted_total * keep, at
            weighted += score
        else:
            # Older than the newest (e.g. committed out of order): it weighs less than 1.
            w = decay(self.anchor - at, half_life)
            weight, weighted, anchor = self.weight + w, self.weighted_total + w * score, self.anchor
        return Totals(
            count=self.count + 1,
            total=self.total + score,
            distribution=(counts[0], counts[1], counts[2], counts[3], counts[4]),
            weight=weight,
            weighted_total=weighted,
            anchor=anchor,
        )

    @property
    def mean(self) -> float | None:
        """The plain mean score, or ``None`` without ratings."""
        return _clamp(self.total / self.count) if self.count else None

    @property
    def weighted_mean(self) -> float | None:
        """The recency-weighted mean score, or ``None`` without ratings."""
        if not self.count or self.weight <= 0:
            return None
        return _clamp(self.weighted_total / self.weight)

    @property
    def score(self) -> float:
        """The ranking score (:data:`PRIOR_MEAN` without ratings)."""
        return rank_score(self.count, self.weighted_mean)

    def summary(self) -> RatingSummary:
        """The public view of these totals (figures rounded to 4 decimals)."""
        return RatingSummary(
            count=self.count,
            mean=_round(self.mean),
            distribution={str(s): n for s, n in enumerate(self.distribution, start=MIN_SCORE)},
            weighted_mean=_round(self.weighted_mean),
            score=_round(self.score) if self.count else None,
            last_rated_at=self.anchor,
        )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def summarize(ratings: Iterable[tuple[int, datetime]], half_life: timedelta) -> Totals:
    """The totals of ``(score, time)`` pairs, in any order."""
    totals = Totals()
    for score, at in sorted(ratings, key=lambda r: r[1]):
        totals = totals.add(score, at, half_life)
    return totals


class RatingSummary(BaseModel):
    """Count, mean, distribution and recency-weighted figures of a set of ratings."""

    count: int
    mean: float | None = Field(description="Plain mean score (1–5); null when unrated")
    distribution: dict[str, int] = Field(description='How many ratings of each score, "1".."5"')
    weighted_mean: float | None = Field(
        description="Recency-weighted mean: a rating one half-life older weighs half as much"
    )
    score: float | None = Field(
        description="Ranking score: weighted_mean pulled towards 3 by three neutral ratings"
    )
    last_rated_at: datetime | None


class RatingView(BaseModel):
    """One rating as every operator sees it."""

    id: str
    skill_id: str
    version: str
    rater_id: str
    score: int
    comment: str | None
    created_at: datetime


class VersionRatings(BaseModel):
    """The summary of one skill version's ratings."""

    skill_id: str
    version: str
    summary: RatingSummary


class RatingsPage(BaseModel):
    """A skill's rating summaries (whole skill and per version) and a page of its ratings."""

    skill_id: str
    name: str
    raters: list[str] | None = Field(
        description="The whitelist the figures were computed over; null: every rater"
    )
    half_life_days: float
    summary: RatingSummary = Field(description="Every version of the skill together")
    versions: list[VersionRatings] = Field(description="Per version, newest version first")
    items: list[RatingView] = Field(description="Ratings, newest first")
    limit: int
    offset: int
    has_more: bool


class RateResult(BaseModel):
    """The new rating, and the summaries it changed."""

    rating: RatingView
    invocation_id: str
    summary: RatingSummary = Field(description="The whole skill, every version")
    version_summary: RatingSummary = Field(description="The rated version")

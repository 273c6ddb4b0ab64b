"""The pure rating rules: the body of a rating, the raters whitelist and the summary math."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from skillmarket.reputation.errors import RatersInvalid, RatingScoreInvalid
from skillmarket.reputation.models import (
    MAX_COMMENT,
    MAX_RATERS,
    PRIOR_MEAN,
    RatingDraft,
    Totals,
    check_raters,
    decay,
    parse_raters,
    rank_score,
    summarize,
    unit_score,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HALF = timedelta(days=30)

scores = st.integers(min_value=1, max_value=5)
offsets = st.integers(min_value=0, max_value=5 * 365 * 24 * 3600)  # up to five years, in seconds
ratings = st.lists(
    st.tuples(scores, offsets.map(lambda s: T0 + timedelta(seconds=s))), min_size=1, max_size=60
)
half_lives = st.integers(min_value=60, max_value=3650 * 24 * 3600).map(
    lambda s: timedelta(seconds=s)
)


def folded(points, half_life=HALF):
    """Fold ratings in the order given (as concurrent transactions may commit them)."""
    totals = Totals()
    for score, at in points:
        totals = totals.add(score, at, half_life)
    return totals


class TestSummary:
    @given(ratings, half_lives)
    def test_means_and_score_stay_on_the_scale(self, points, half_life):
        totals = summarize(points, half_life)
        for figure in (totals.mean, totals.weighted_mean, totals.score):
            assert 1.0 <= figure <= 5.0

    @given(ratings)
    def test_counts_add_up(self, points):
        totals = summarize(points, HALF)
        assert totals.count == len(points) == sum(totals.distribution)
        assert totals.total == sum(s for s, _ in points)
        assert totals.distribution == tuple(
            sum(1 for s, _ in points if s == k) for k in range(1, 6)
        )
        assert totals.anchor == max(at for _, at in points)

    @given(ratings, half_lives, st.randoms(use_true_random=False))
    def test_order_of_arrival_does_not_matter(self, points, half_life, rng):
        shuffled = list(points)
        rng.shuffle(shuffled)
        a, b = summarize(points, half_life), folded(shuffled, half_life)
        assert (a.count, a.total, a.distribution, a.anchor) == (
            b.count,
            b.total,
            b.distribution,
            b.anchor,
        )
        assert math.isclose(a.weighted_mean, b.weighted_mean, rel_tol=1e-9)

    @given(ratings, st.data())
    def test_a_whitelist_counts_a_subset(self, points, data):
        kept = data.draw(st.lists(st.sampled_from(range(len(points))), unique=True))
        whole, part = summarize(points, HALF), summarize([points[i] for i in kept], HALF)
        assert part.count == len(kept) <= whole.count
        assert all(p <= w for p, w in zip(part.distribution, whole.distribution, strict=True))

    @given(st.lists(scores, min_size=1, max_size=30))
    def test_ratings_made_at_once_weigh_the_same(self, values):
        totals = summarize([(s, T0) for s in values], HALF)
        assert math.isclose(totals.weighted_mean, totals.mean, rel_tol=1e-12)

    def test_a_rating_one_half_life_older_weighs_half(self):
        totals = summarize([(1, T0), (5, T0 + HALF)], HALF)
        # weights 0.5 and 1: (0.5 * 1 + 1 * 5) / 1.5
        assert math.isclose(totals.weighted_mean, 5.5 / 1.5)
        assert totals.mean == 3.0

    @given(scores, scores, st.lists(st.integers(1, 10_000), min_size=2, max_size=8, unique=True))
    def test_the_newer_rating_pulls_harder_as_the_gap_grows(self, old, new, gaps):
        means = [
            summarize([(old, T0), (new, T0 + timedelta(hours=g))], HALF).weighted_mean
            for g in sorted(gaps)
        ]
        if new > old:
            assert means == sorted(means) and means[-1] <= new
        elif new < old:
            assert means == sorted(means, reverse=True) and means[-1] >= new
        else:
            assert all(math.isclose(m, new) for m in means)

    def test_very_old_ratings_underflow_to_nothing_without_error(self):
        totals = summarize([(1, T0), (5, T0 + timedelta(days=365 * 100))], timedelta(hours=1))
        assert totals.weighted_mean == 5.0 and totals.mean == 3.0

    def test_empty_totals_summarise_as_unrated(self):
        summary = Totals().summary()
        assert summary.count == 0
        assert summary.mean is summary.weighted_mean is summary.score is None
        assert summary.distribution == {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}

    def test_add_fails_out_of_range_score(self):
        for bad in (0, 6, True, 4.5):
            with pytest.raises(RatingScoreInvalid):
                Totals().add(bad, T0, HALF)  # type: ignore[arg-type]


class TestDecay:
    @given(st.integers(0, 10**8), st.integers(0, 10**8), half_lives)
    def test_decay_never_grows_with_age(self, a, b, half_life):
        young, old = sorted((a, b))
        assert decay(timedelta(seconds=old), half_life) <= decay(
            timedelta(seconds=young), half_life
        )

    def test_decay_halves_per_half_life(self):
        assert decay(timedelta(0), HALF) == 1.0
        assert decay(HALF, HALF) == 0.5
        assert decay(2 * HALF, HALF) == 0.25


class TestRankScore:
    def test_unrated_ranks_as_neutral(self):
        assert rank_score(0, None) == PRIOR_MEAN == Totals().score
        assert unit_score(PRIOR_MEAN) == 0.5

    def test_one_perfect_rating_does_not_outrank_fifty_great_ones(self):
        assert rank_score(1, 5.0) < rank_score(50, 4.8)

    def test_more_good_ratings_rank_higher_and_more_bad_ones_lower(self):
        good = [rank_score(n, 4.5) for n in (1, 5, 50)]
        bad = [rank_score(n, 1.5) for n in (1, 5, 50)]
        assert good == sorted(good) and bad == sorted(bad, reverse=True)
        assert max(bad) < PRIOR_MEAN < min(good)

    def test_unit_score_maps_the_scale_onto_zero_to_one(self):
        assert (unit_score(1.0), unit_score(5.0)) == (0.0, 1.0)


class TestRatingDraft:
    def test_valid_body_is_normalised(self):
        draft = RatingDraft.model_validate(
            {"invocation_id": "sinv_x", "score": 4, "comment": "  fast\nand right  "}
        )
        assert (draft.score, draft.comment) == (4, "fast\nand right")
        blank = RatingDraft.model_validate({"invocation_id": "sinv_x", "score": 4, "comment": " "})
        assert blank.comment is None

    @pytest.mark.parametrize("score", [0, 6, -1, 4.5, 5.0, "5", True, None])
    def test_score_fails_unless_a_whole_number_from_1_to_5(self, score):
        with pytest.raises(ValidationError) as caught:
            RatingDraft.model_validate({"invocation_id": "sinv_x", "score": score})
        assert caught.value.errors()[0]["type"] == "rating_score_invalid"

    @pytest.mark.parametrize("comment", ["x" * (MAX_COMMENT + 1), "nul\x00byte", "bell\x07", 5])
    def test_comment_fails_too_long_control_characters_or_not_text(self, comment):
        with pytest.raises(ValidationError) as caught:
            RatingDraft.model_validate({"invocation_id": "sinv_x", "score": 3, "comment": comment})
        assert caught.value.errors()[0]["type"] == "rating_comment_invalid"

    def test_unknown_fields_fail(self):
        with pytest.raises(ValidationError) as caught:
            RatingDraft.model_validate({"invocation_id": "sinv_x", "score": 3, "stars": 5})
        assert caught.value.errors()[0]["type"] == "extra_forbidden"


class TestParseRaters:
    def test_absent_means_everyone_and_duplicates_collapse(self):
        assert parse_raters(None) is None
        assert parse_raters("op_a1, op_b2,op_a1") == ("op_a1", "op_b2")

    @pytest.mark.parametrize("text", ["", " , ", "alice", "op_a1,skl_x", "op_A1", "op_a1;op_b2"])
    def test_fails_empty_or_not_operator_ids(self, text):
        with pytest.raises(RatersInvalid):
            parse_raters(text)

    def test_a_list_is_checked_the_same_way(self):
        assert check_raters(["op_b2", "op_a1", "op_b2"]) == ("op_b2", "op_a1")
        for bad in ([], ["op_a1", 5], ["skl_x"]):
            with pytest.raises(RatersInvalid):
                check_raters(bad)

    def test_fails_too_many(self):
        rng = random.Random(1)
        many = ",".join(f"op_{rng.getrandbits(64):x}" for _ in range(MAX_RATERS + 1))
        with pytest.raises(RatersInvalid):
            parse_raters(many)

"""Scores of matches and chains."""

from __future__ import annotations

from skillmarket.requests import ranking


class TestScores:
    def test_cheapness_runs_from_free_to_the_maximum(self):
        assert ranking.cheapness(0, 10) == 1.0
        assert ranking.cheapness(10, 10) == 0.0
        assert ranking.cheapness(0, 0) == 1.0

    def test_proven_beats_unproven_at_equal_relevance_and_price(self):
        assert ranking.match_score(0.5, 1, 10, True) > ranking.match_score(0.5, 1, 10, False)

    def test_perfect_match_scores_one(self):
        assert ranking.match_score(1.0, 0, 10, True, rating=1.0) == 1.0

    def test_better_rating_ranks_higher_at_equal_relevance_price_and_fit(self):
        low, high = (ranking.match_score(0.3, 2, 10, True, rating=r) for r in (0.2, 0.9))
        assert high > low

    def test_unrated_is_neutral_between_bad_and_good(self):
        unrated = ranking.match_score(0.5, 1, 10, True)
        assert ranking.match_score(0.5, 1, 10, True, rating=0.1) < unrated
        assert unrated < ranking.match_score(0.5, 1, 10, True, rating=0.9)

    def test_relevance_outweighs_rating(self):
        relevant_unrated = ranking.match_score(1.0, 1, 10, True)
        irrelevant_loved = ranking.match_score(0.5, 1, 10, True, rating=1.0)
        assert relevant_unrated > irrelevant_loved

    def test_weights_sum_to_one(self):
        w = ranking.WEIGHTS
        assert abs(w.relevance + w.price + w.fit + w.rating - 1.0) < 1e-9

    def test_fewer_steps_always_rank_first(self):
        worst_two = ranking.chain_score([0.0, 0.0], 10, 10, False)
        best_three = ranking.chain_score([1.0, 1.0, 1.0], 0, 10, True)
        assert worst_two > best_three

"""Ratings over the real HTTP API on both stores: a buyer invokes, the invocation completes,
the buyer rates it; every refusal; summaries and the raters whitelist; search and matching by
rating; the audit event."""

from __future__ import annotations

import hashlib
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from skillmarket.reputation.errors import AlreadyRated
from skillmarket.reputation.models import RatingDraft, summarize
from skillmarket.reputation.services import ReputationService
from skillmarket.reputation.tables import ratings as ratings_table
from tests.conftest import auth
from tests.integration.test_api import assert_error
from tests.integration.test_invocations import Market, llm, market  # noqa: F401  (fixture)
from tests.support.openai_server import Reply

OPEN = {"execution_mode": "open", "input_schema": {"type": "object"}, "output_schema": {}}


class Raters:
    """The served market, plus helpers to buy, finish and rate invocations."""

    def __init__(self, served: Market):
        self.m = served
        self.carol, key = served.services.identity.create_operator("carol", "free")
        self.carol_key = key.api_key
        self.carol_passport = served.services.passports.issue(self.carol.id, {}).passport_id
        served.services.ledger.deposit(self.carol.id, 5_000_000, provider_ref="carol-1")

    @property
    def bob_key(self) -> str:
        return self.m.bob_key.api_key

    @property
    def alice_key(self) -> str:
        return self.m.alice_key.api_key

    def open_skill(self, name: str, **manifest) -> dict:
        return self.m.publish(name=name, **{**OPEN, **manifest})

    def buy(self, skill_id: str, key: str | None = None, passport: str | None = None, **extra):
        body = {"input": {"n": 1}, "passport_id": passport or self.m.passport, **extra}
        response = self.m.client.post(
            f"/v1/skills/{skill_id}/invoke", json=body, headers=auth(key or self.bob_key)
        )
        assert response.status_code == 202, response.text
        return response.json()["invocation_id"]

    def complete(self, invocation_id: str) -> None:
        response = self.m.client.post(
            f"/v1/skills/invocations/{invocation_id}/complete",
            json={"output": {"ok": True}},
            headers=auth(self.alice_key),
        )
        assert response.json()["status"] == "completed", response.text

    def completed(self, skill_id: str, buyer: str = "bob") -> str:
        if buyer == "carol":
            invocation_id = self.buy(skill_id, self.carol_key, self.carol_passport)
        else:
            invocation_id = self.buy(skill_id)
        self.complete(invocation_id)
        return invocation_id

    def rate(self, skill_id: str, invocation_id: str, score=5, key: str | None = None, **extra):
        body = {"invocation_id": invocation_id, "score": score, **extra}
        return self.m.client.post(
            f"/v1/skills/{skill_id}/rate", json=body, headers=auth(key or self.bob_key)
        )

    def ratings(self, skill_id: str, **params) -> dict:
        response = self.m.client.get(
            f"/v1/skills/{skill_id}/ratings", params=params, headers=auth(self.bob_key)
        )
        assert response.status_code == 200, response.text
        return response.json()

    def stored_ratings(self) -> int:
        with self.m.services.db.read() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(ratings_table)).scalar()

    def rate_events(self) -> list[dict]:
        events = self.m.services.audit.events(None, limit=100_000)
        return [e for e in events if e["type"] == "skill.rate"]


@pytest.fixture
def r(market):  # noqa: F811
    return Raters(market)


class TestRate:
    def test_buyer_rates_a_completed_invocation_and_it_is_audited(self, r):
        skill = r.open_skill("word-count")
        invocation_id = r.completed(skill["id"])
        response = r.rate(skill["id"], invocation_id, 4, comment="  Quick and right.  ")
        assert response.status_code == 201, response.text
        body = response.json()
        rating = body["rating"]
        assert rating["id"].startswith("rat_") and body["invocation_id"] == invocation_id
        assert (rating["skill_id"], rating["version"]) == (skill["id"], "1.0.0")
        assert (rating["rater_id"], rating["score"]) == (r.m.bob.id, 4)
        assert rating["comment"] == "Quick and right."
        assert body["summary"]["count"] == body["version_summary"]["count"] == 1
        assert body["summary"]["mean"] == body["summary"]["weighted_mean"] == 4.0
        assert body["summary"]["distribution"] == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0}
        # The same figures on the skill's detail and in search.
        shown = r.m.client.get(f"/v1/skills/{skill['id']}", headers=auth(r.carol_key)).json()
        assert shown["rating"]["count"] == shown["version_rating"]["count"] == 1
        assert shown["rating"]["mean"] == 4.0
        found = r.m.client.get(
            "/v1/skills", params={"search": "word"}, headers=auth(r.carol_key)
        ).json()
        assert found["items"][0]["rating"] == shown["rating"]
        # One skill.rate event, on the invocation's own timeline, visible to the publisher.
        assert r.m.events(invocation_id)[-1] == "skill.rate"
        (event,) = r.rate_events()
        assert event["actor"] == r.m.bob.id and event["subject"] == invocation_id
        digest = hashlib.sha256(b"Quick and right.").hexdigest()
        assert event["data"] == {
            "rating_id": rating["id"],
            "skill_id": skill["id"],
            "name": "word-count",
            "version": "1.0.0",
            "score": 4,
            "comment_hash": f"sha256:{digest}",
        }
        assert "Quick" not in str(event)  # metadata only, never the comment's text
        seen = r.m.services.audit.events(r.m.alice.id, limit=1000, subject=invocation_id)
        assert [e["type"] for e in seen][-1] == "skill.rate"

    def test_a_sealed_invocation_the_runner_completed_can_be_rated(self, r, openai_server):
        openai_server.script(Reply.echo())
        skill = r.m.publish(
            name="echo",
            execution_mode="sealed",
            execution_steps=[llm()],
            input_schema={},
            output_schema={},
        )
        done = r.m.invoke(skill["id"], payload="hi")
        assert done.json()["status"] == "completed", done.text
        response = r.rate(skill["id"], done.json()["invocation_id"], 5)
        assert response.status_code == 201, response.text

    def test_rate_twice_fails_already_rated(self, r):
        skill = r.open_skill("twice")
        invocation_id = r.completed(skill["id"])
        first = r.rate(skill["id"], invocation_id, 5).json()
        error = assert_error(r.rate(skill["id"], invocation_id, 1), 409, "ALREADY_RATED")
        assert error["details"]["rating_id"] == first["rating"]["id"]
        assert r.ratings(skill["id"])["summary"]["mean"] == 5.0
        assert r.stored_ratings() == 1 and len(r.rate_events()) == 1

    def test_rate_fails_for_someone_elses_invocation(self, r):
        skill = r.open_skill("theirs")
        invocation_id = r.completed(skill["id"])
        for key in (r.carol_key, r.alice_key):  # another buyer, and the skill's publisher
            error = assert_error(
                r.rate(skill["id"], invocation_id, 1, key=key), 404, "INVOCATION_NOT_FOUND"
            )
            assert error["details"] == {"invocation_id": invocation_id}
        assert_error(r.rate(skill["id"], "sinv_nope", 1), 404, "INVOCATION_NOT_FOUND")
        assert r.stored_ratings() == 0 and r.rate_events() == []

    def test_rate_fails_pending_or_expired_invocation(self, r):
        skill = r.open_skill("slow")
        pending = r.buy(skill["id"])
        error = assert_error(r.rate(skill["id"], pending, 5), 409, "INVOCATION_NOT_COMPLETED")
        assert error["details"]["status"] == "pending"
        expiring = r.buy(skill["id"], ttl_seconds=1)
        time.sleep(1.3)
        assert r.m.poll(expiring).json()["status"] == "expired"
        error = assert_error(r.rate(skill["id"], expiring, 5), 409, "INVOCATION_NOT_COMPLETED")
        assert error["details"]["status"] == "expired"
        assert r.stored_ratings() == 0 and r.rate_events() == []

    def test_rate_fails_failed_invocation(self, r, openai_server):
        openai_server.script(Reply.error(400, "bad request"))
        skill = r.m.publish(
            name="broken",
            execution_mode="sealed",
            execution_steps=[llm()],
            input_schema={},
            output_schema={},
        )
        failed = r.m.invoke(skill["id"], payload="hi").json()
        assert failed["status"] == "failed"
        error = assert_error(
            r.rate(skill["id"], failed["invocation_id"], 1), 409, "INVOCATION_NOT_COMPLETED"
        )
        assert error["details"]["status"] == "failed"

    def test_publisher_cannot_rate_own_skill(self, r):
        services = r.m.services
        passport = services.passports.issue(r.m.alice.id, {}).passport_id
        services.ledger.deposit(r.m.alice.id, 1_000_000, provider_ref="alice-buys")
        skill = r.open_skill("mine")
        invocation_id = r.buy(skill["id"], r.alice_key, passport)
        r.complete(invocation_id)
        assert_error(
            r.rate(skill["id"], invocation_id, 5, key=r.alice_key), 403, "SELF_RATING_FORBIDDEN"
        )
        assert r.stored_ratings() == 0

    def test_rate_fails_for_another_skill_or_an_unknown_one(self, r):
        skill, other = r.open_skill("one"), r.open_skill("other")
        invocation_id = r.completed(skill["id"])
        assert_error(r.rate(other["id"], invocation_id, 5), 422, "INVOCATION_SKILL_MISMATCH")
        assert_error(r.rate("skl_nope", invocation_id, 5), 404, "SKILL_NOT_FOUND")
        assert r.stored_ratings() == 0

    def test_rating_attaches_to_the_version_the_invocation_ran(self, r):
        first = r.open_skill("versioned")
        invocation_id = r.completed(first["id"])
        second = r.m.publish(name="versioned", version="1.1.0", **OPEN)
        body = r.rate(second["id"], invocation_id, 3).json()  # rated through the newer id
        assert (body["rating"]["skill_id"], body["rating"]["version"]) == (first["id"], "1.0.0")
        newer = r.m.client.get(f"/v1/skills/{second['id']}", headers=auth(r.bob_key)).json()
        assert newer["rating"]["count"] == 1 and newer["version_rating"]["count"] == 0

    @pytest.mark.parametrize(
        "body, code",
        [
            ({"score": 0}, "RATING_SCORE_INVALID"),
            ({"score": 6}, "RATING_SCORE_INVALID"),
            ({"score": 4.5}, "RATING_SCORE_INVALID"),
            ({"score": "5"}, "RATING_SCORE_INVALID"),
            ({"score": 5, "comment": "x" * 1001}, "RATING_COMMENT_INVALID"),
            ({"score": 5, "comment": "a\x00b"}, "RATING_COMMENT_INVALID"),
            ({}, "MISSING_FIELD"),
            ({"score": 5, "stars": 5}, "UNKNOWN_FIELD"),
        ],
    )
    def test_bad_body_fails_with_its_code_and_writes_nothing(self, r, body, code):
        skill = r.open_skill("picky")
        invocation_id = r.completed(skill["id"])
        response = r.m.client.post(
            f"/v1/skills/{skill['id']}/rate",
            json={"invocation_id": invocation_id, **body},
            headers=auth(r.bob_key),
        )
        assert_error(response, 422, code)
        assert r.stored_ratings() == 0 and r.rate_events() == []
        assert r.ratings(skill["id"])["summary"]["count"] == 0

    def test_concurrent_ratings_of_one_invocation_land_once(self, r):
        skill = r.open_skill("race")
        invocation_id = r.completed(skill["id"])
        draft = RatingDraft(invocation_id=invocation_id, score=5)

        def attempt(_):
            try:
                r.m.services.reputation.rate(r.m.bob.id, skill["id"], draft)
                return "rated"
            except AlreadyRated:
                return "refused"

        with ThreadPoolExecutor(max_workers=6) as pool:
            outcomes = list(pool.map(attempt, range(6)))
        assert sorted(outcomes) == ["rated"] + ["refused"] * 5
        assert r.stored_ratings() == 1 and len(r.rate_events()) == 1
        assert r.ratings(skill["id"])["summary"]["count"] == 1


class TestSummaries:
    def test_summaries_per_skill_and_version_and_the_raters_whitelist(self, r):
        first = r.open_skill("reviewed")
        for score in (5, 4):
            r.rate(first["id"], r.completed(first["id"]), score)
        second = r.m.publish(name="reviewed", version="2.0.0", **OPEN)
        r.rate(second["id"], r.completed(second["id"], "carol"), 1, key=r.carol_key)

        page = r.ratings(first["id"])
        assert page["raters"] is None and page["half_life_days"] == 30
        assert page["summary"]["count"] == 3
        assert page["summary"]["mean"] == pytest.approx(10 / 3, abs=1e-4)
        assert page["summary"]["distribution"] == {"1": 1, "2": 0, "3": 0, "4": 1, "5": 1}
        assert [(v["version"], v["summary"]["count"]) for v in page["versions"]] == [
            ("2.0.0", 1),
            ("1.0.0", 2),
        ]
        assert [i["score"] for i in page["items"]] == [1, 4, 5]  # newest first

        bob_only = r.ratings(first["id"], raters=r.m.bob.id)
        assert bob_only["raters"] == [r.m.bob.id]
        assert (bob_only["summary"]["count"], bob_only["summary"]["mean"]) == (2, 4.5)
        assert [v["version"] for v in bob_only["versions"]] == ["1.0.0"]
        assert {i["rater_id"] for i in bob_only["items"]} == {r.m.bob.id}
        carol_only = r.ratings(first["id"], raters=f" {r.carol.id} ,{r.carol.id}")
        assert (carol_only["summary"]["count"], carol_only["summary"]["mean"]) == (1, 1.0)
        nobody = r.ratings(first["id"], raters="op_nobodyrateshere")
        assert nobody["summary"]["count"] == 0 and nobody["items"] == []

        v2 = r.ratings(first["id"], version="2.0.0")
        assert [v["version"] for v in v2["versions"]] == ["2.0.0"]
        assert [i["score"] for i in v2["items"]] == [1]
        paged = r.ratings(first["id"], limit=2, offset=1)
        assert [i["score"] for i in paged["items"]] == [4, 5] and not paged["has_more"]
        assert r.ratings(first["id"], limit=1)["has_more"]

    def test_stored_totals_agree_with_a_fresh_sum(self, r, monkeypatch):
        # Ratings made weeks apart, one of them committed after a newer one (out of order).
        start = datetime(2026, 3, 1, tzinfo=UTC)
        days = iter([0, 40, 20, 75, 90])
        monkeypatch.setattr(
            "skillmarket.reputation.services.utcnow",
            lambda: start + timedelta(days=next(days)),
        )
        skill = r.open_skill("checked")
        for score in (5, 3, 4, 2):
            r.rate(skill["id"], r.completed(skill["id"]), score)
        r.rate(skill["id"], r.completed(skill["id"], "carol"), 1, key=r.carol_key)
        stored = r.ratings(skill["id"])["summary"]
        fresh = r.ratings(skill["id"], raters=f"{r.m.bob.id},{r.carol.id}")["summary"]
        assert stored.pop("distribution") == fresh.pop("distribution")
        assert stored == pytest.approx(fresh, abs=1e-4)
        # weights 2^-3, 2^(-50/30), 2^(-70/30), 2^(-15/30), 1 against the newest, day 90
        weights = [2 ** (-d / 30) for d in (90, 50, 70, 15, 0)]
        expected = sum(w * s for w, s in zip(weights, (5, 3, 4, 2, 1), strict=True)) / sum(weights)
        assert stored["weighted_mean"] == pytest.approx(expected, abs=1e-4)
        assert stored["last_rated_at"].startswith("2026-05-30")

    def test_reading_fails_bad_raters_or_unknown_version(self, r):
        skill = r.open_skill("listed")
        url = f"/v1/skills/{skill['id']}/ratings"
        for raters in ("", "alice", "op_x,skl_y"):
            response = r.m.client.get(url, params={"raters": raters}, headers=auth(r.bob_key))
            assert_error(response, 422, "RATERS_INVALID")
        response = r.m.client.get(url, params={"version": "9.9.9"}, headers=auth(r.bob_key))
        assert_error(response, 404, "SKILL_NOT_FOUND")
        response = r.m.client.get("/v1/skills/skl_nope/ratings", headers=auth(r.bob_key))
        assert_error(response, 404, "SKILL_NOT_FOUND")

    def test_a_new_half_life_rebuilds_the_stored_totals(self, r):
        skill = r.open_skill("aging")
        old = r.rate(skill["id"], r.completed(skill["id"]), 1).json()["rating"]
        r.rate(skill["id"], r.completed(skill["id"]), 5)
        services = r.m.services
        made = datetime.fromisoformat(old["created_at"])
        with services.db.write() as conn:  # the 1-star rating was made 60 days earlier
            conn.execute(
                ratings_table.update()
                .where(ratings_table.c.id == old["id"])
                .values(created_at=made - timedelta(days=60))
            )
        ten_days = timedelta(days=10)
        again = ReputationService(services.db, services.catalog, services.invocations, ten_days)
        assert again.sync_totals() == 2
        assert again.sync_totals() == 0  # in step now
        with services.db.read() as conn:
            points = [
                (row.score, row.created_at)
                for row in conn.execute(
                    sa.select(ratings_table.c.score, ratings_table.c.created_at)
                )
            ]
        expected = summarize(points, ten_days).summary()
        page = again.ratings(skill["id"])
        assert page.summary.weighted_mean == pytest.approx(expected.weighted_mean)
        assert page.summary.weighted_mean > 4.9  # the old 1-star weighs 2 ** -6
        assert page.summary.mean == 3.0


class TestSearchAndMatching:
    @pytest.fixture
    def rated(self, r):
        """Three widgets: loved (5, 5), disliked (2) and unrated, published in that order."""
        made = {}
        for name in ("widget-loved", "widget-disliked", "widget-unrated"):
            made[name] = r.open_skill(name, description=f"A {name.split('-')[1]} widget tool.")
        for score in (5, 5):
            r.rate(made["widget-loved"]["id"], r.completed(made["widget-loved"]["id"]), score)
        r.rate(made["widget-disliked"]["id"], r.completed(made["widget-disliked"]["id"]), 2)
        return made

    def names(self, r, **params):
        page = r.m.client.get("/v1/skills", params=params, headers=auth(r.bob_key))
        assert page.status_code == 200, page.text
        return [s["name"] for s in page.json()["items"]]

    def test_sort_by_rating_puts_unrated_between_good_and_bad(self, r, rated):
        order = ["widget-loved", "widget-unrated", "widget-disliked"]
        assert self.names(r, sort="rating") == order
        assert self.names(r, search="widget", sort="rating") == order
        assert self.names(r, search="widget tool", sort="rating", limit=1, offset=1) == order[1:2]

    def test_min_rating_keeps_rated_skills_at_or_above_it(self, r, rated):
        assert self.names(r, min_rating=4) == ["widget-loved"]
        assert self.names(r, min_rating=2, sort="rating") == ["widget-loved", "widget-disliked"]
        assert self.names(r, search="widget", min_rating=2.5) == ["widget-loved"]
        assert self.names(r, search="widget", min_rating=5, trust_level="L1") == []
        page = r.m.client.get(
            "/v1/skills", params={"search": "widget", "min_rating": 1}, headers=auth(r.bob_key)
        ).json()
        assert {s["name"]: s["rating"]["count"] for s in page["items"]} == {
            "widget-loved": 2,
            "widget-disliked": 1,
        }

    def test_sort_newest_and_bad_parameters(self, r, rated):
        assert self.names(r, sort="newest") == ["widget-unrated", "widget-disliked", "widget-loved"]
        assert self.names(r, search="widget", sort="newest", min_rating=1) == [
            "widget-disliked",
            "widget-loved",
        ]
        assert self.names(r, sort="newest", limit=1, offset=2) == ["widget-loved"]
        for params in ({"sort": "stars"}, {"min_rating": 0}, {"min_rating": 5.5}):
            response = r.m.client.get("/v1/skills", params=params, headers=auth(r.bob_key))
            assert_error(response, 422, "VALIDATION_ERROR")

    def test_rating_order_pages_agree_with_the_whole_order(self, r):
        # Scores above, at and below neutral (a single 3 scores exactly 3), and unrated skills.
        plan = {"g-five": [5], "g-four": [4, 4], "g-three": [3], "g-two": [2], "g-one": [1, 1]}
        for name in [*plan, "g-none-a", "g-none-b"]:
            skill = r.open_skill(name, description="A gadget.")
            for score in plan.get(name, []):
                r.rate(skill["id"], r.completed(skill["id"]), score)
        whole = r.m.client.get(
            "/v1/skills", params={"sort": "rating", "limit": 100}, headers=auth(r.bob_key)
        ).json()["items"]
        expected = sorted(
            whole,
            key=lambda s: (-(s["rating"]["score"] or 3.0), -s["rating"]["count"], s["name"]),
        )
        assert [s["name"] for s in whole] == [s["name"] for s in expected]
        # (5 + 3·3) / 4 = 3.5 beats (4 + 4 + 3·3) / 5 = 3.4; a single 3 scores exactly 3.
        assert [s["name"] for s in whole][:3] == ["g-five", "g-four", "g-three"]
        assert [s["name"] for s in whole][3:5] == ["g-none-a", "g-none-b"]
        for search in (None, "gadget"):
            for limit in (1, 2, 3):
                pages, offset = [], 0
                while True:
                    params = {"sort": "rating", "limit": limit, "offset": offset}
                    if search:
                        params["search"] = search
                    page = r.m.client.get("/v1/skills", params=params, headers=auth(r.bob_key))
                    body = page.json()
                    pages += [s["name"] for s in body["items"]]
                    offset += limit
                    if not body["has_more"]:
                        break
                assert pages == [s["name"] for s in whole], (search, limit)

    def test_matching_ranks_the_better_rated_of_two_equal_skills_first(self, r):
        twins = [r.open_skill(name, description="Counts widgets.") for name in ("twin-a", "twin-b")]
        request = r.m.client.post(
            "/v1/requests",
            json={
                "description": "count widgets",
                "input_schema": {"type": "object"},
                "output_schema": {},
                "max_price_cents": 10,
            },
            headers=auth(r.carol_key),
        ).json()
        url = f"/v1/requests/{request['id']}/matches"

        def order():
            items = r.m.client.get(url, headers=auth(r.carol_key)).json()["items"]
            return [m["skill"]["id"] for m in items]

        before = order()
        assert set(before) == {t["id"] for t in twins}
        first, second = before  # tied: in id order
        r.rate(first, r.completed(first), 1)
        r.rate(second, r.completed(second), 5)
        assert order() == [second, first]

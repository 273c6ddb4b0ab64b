"""Skill requests, matching and composition on the store (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from skillmarket.audit.tables import audit_events
from skillmarket.catalog.manifest import SkillManifest
from skillmarket.catalog.tables import skills
from skillmarket.requests.errors import NotRequestOwner, RequestClosed, RequestNotFound
from skillmarket.requests.models import RequestDraft
from skillmarket.requests.services import RequestFilters
from skillmarket.requests.tables import skill_shape_names, skill_shapes


def obj(*required, **props):
    return {"type": "object", "required": list(required), "properties": props}


STR, INT, NUM = {"type": "string"}, {"type": "integer"}, {"type": "number"}


def draft(**overrides):
    body = {
        "description": "Total an invoice from its line items",
        "input_schema": obj("items", items={"type": "array", "items": obj("price", price=NUM)}),
        "output_schema": obj("total", total=NUM),
        "max_price_cents": 10,
        "tags": ["finance"],
    }
    body.update(overrides)
    return RequestDraft.model_validate(body)


@pytest.fixture
def poster(operator_factory):
    return operator_factory("poster")[0]


@pytest.fixture
def other(operator_factory):
    return operator_factory("other")[0]


@pytest.fixture
def publish(services, operator_factory, manifest_factory):
    publisher = operator_factory("publisher")[0]

    def make(name, inputs, outputs, price=0, description=None, version="1.0.0"):
        manifest = manifest_factory(
            name=name,
            version=version,
            input_schema=inputs,
            output_schema=outputs,
            price_cents=price,
            description=description or f"The {name.replace('-', ' ')} skill.",
        )
        return services.catalog.publish(publisher.id, SkillManifest.model_validate(manifest)).skill

    make.publisher = publisher
    return make


def events(database, kind):
    with database.read() as conn:
        return conn.execute(
            sa.select(audit_events.c.subject).where(audit_events.c.type == kind)
        ).all()


class TestPost:
    def test_post_makes_an_open_public_request(self, services, poster, database):
        request = services.requests.post(poster.id, draft())
        assert request.id.startswith("req_") and request.status == "open"
        assert request.fingerprint.startswith("sha256:")
        assert services.requests.get(request.id) == request
        assert [e.subject for e in events(database, "request.post")] == [request.id]

    def test_post_fails_invalid_schema(self):
        with pytest.raises(ValidationError) as caught:
            draft(output_schema={"type": "no-such-type"})
        assert caught.value.errors()[0]["type"] == "invalid_schema"

    def test_post_fails_negative_price(self):
        with pytest.raises(ValidationError):
            draft(max_price_cents=-1)

    def test_get_fails_unknown_id(self, services):
        with pytest.raises(RequestNotFound):
            services.requests.get("req_nope")


class TestList:
    def test_list_is_newest_first_and_paged(self, services, poster):
        ids = [
            services.requests.post(poster.id, draft(description=f"need {i}")).id for i in range(5)
        ]
        page = services.requests.list(RequestFilters(limit=2))
        assert [r.id for r in page.items] == ids[::-1][:2] and page.has_more
        last = services.requests.list(RequestFilters(limit=2, offset=4))
        assert [r.id for r in last.items] == [ids[0]] and not last.has_more

    def test_list_filters_by_text_tag_status_and_poster(self, services, poster, other):
        a = services.requests.post(poster.id, draft(description="Translate 50% of a document"))
        b = services.requests.post(other.id, draft(description="Summarise a text", tags=["text"]))
        services.requests.close(other.id, b.id)
        assert [r.id for r in services.requests.list(RequestFilters(query="TRANSLATE")).items] == [
            a.id
        ]
        assert services.requests.list(RequestFilters(query="50_")).items == []
        assert services.requests.list(RequestFilters(tags=("text",))).items == []
        closed = services.requests.list(RequestFilters(tags=("text",), status="closed"))
        assert [r.id for r in closed.items] == [b.id]
        mine = services.requests.list(RequestFilters(status="all", poster_id=poster.id))
        assert [r.id for r in mine.items] == [a.id]


class TestClose:
    def test_close_is_idempotent(self, services, poster, database):
        request = services.requests.post(poster.id, draft())
        first = services.requests.close(poster.id, request.id)
        again = services.requests.close(poster.id, request.id)
        assert first.status == again.status == "closed"
        assert first.closed_at == again.closed_at
        assert len(events(database, "request.close")) == 1

    def test_close_fails_not_owner(self, services, poster, other):
        request = services.requests.post(poster.id, draft())
        with pytest.raises(NotRequestOwner):
            services.requests.close(other.id, request.id)
        assert services.requests.get(request.id).status == "open"

    def test_matches_fail_closed_request(self, services, poster):
        request = services.requests.post(poster.id, draft())
        services.requests.close(poster.id, request.id)
        with pytest.raises(RequestClosed):
            services.requests.matches(request.id)
        with pytest.raises(RequestClosed):
            services.requests.compositions(request.id)


ITEMS = {"type": "array", "items": obj("price", price=NUM)}


class TestMatches:
    def test_matches_keep_compatible_skills_within_price(self, services, poster, publish):
        good = publish(
            "invoice-total", obj("items", items=ITEMS), obj("total", "count", total=INT, count=INT)
        )
        publish("invoice-count", obj("items", items=ITEMS), obj("count", count=INT))
        publish(
            "needs-currency",
            obj("items", "currency", items=ITEMS, currency=STR),
            obj("total", total=NUM),
        )
        publish("pricey-total", obj("items", items=ITEMS), obj("total", total=NUM), price=11)
        publish("string-total", obj("items", items=ITEMS), obj("total", total=STR))
        request = services.requests.post(poster.id, draft())
        found = services.requests.matches(request.id)
        assert [m.skill.id for m in found.items] == [good.id]
        match = found.items[0]
        assert match.proven and match.caveats == []
        assert {(m.path, m.source, m.target) for m in match.output} == {
            ("total", "integer", "number")
        }
        assert ("items[].price", "number", "number") in {
            (m.path, m.source, m.target) for m in match.input
        }

    def test_matches_only_latest_live_versions(self, services, poster, publish):
        old = publish("versioned", obj("items", items=ITEMS), obj("total", total=NUM))
        new = publish(
            "versioned", obj("items", items=ITEMS), obj("total", total=NUM), version="1.1.0"
        )
        request = services.requests.post(poster.id, draft())
        assert [m.skill.id for m in services.requests.matches(request.id).items] == [new.id]
        services.catalog.deprecate(publish.publisher.id, new.id, None)
        assert [m.skill.id for m in services.requests.matches(request.id).items] == [old.id]
        services.catalog.deprecate(publish.publisher.id, old.id, None)
        assert services.requests.matches(request.id).items == []

    def test_unproven_matches_are_marked_and_ranked_below(self, services, poster, publish):
        proven = publish("exact-total", obj("items", items=ITEMS), obj("total", total=NUM))
        bounded = obj("items", items={**ITEMS, "maxItems": 100})
        unproven = publish("bounded-total", bounded, obj("total", total=NUM))
        request = services.requests.post(poster.id, draft())
        found = services.requests.matches(request.id).items
        assert [m.skill.id for m in found] == [proven.id, unproven.id]
        assert not found[1].proven and "maxItems 100" in found[1].caveats[0]
        assert found[1].caveats[0].startswith("input: ")
        only = services.requests.matches(request.id, proven_only=True).items
        assert [m.skill.id for m in only] == [proven.id]

    def test_matches_rank_relevance_then_price(self, services, poster, publish):
        schemas = (obj("items", items=ITEMS), obj("total", total=NUM))
        cheap = publish("cheap-thing", *schemas, price=0, description="Does something.")
        relevant = publish("invoice-totaller", *schemas, price=5, description="Totals an invoice.")
        request = services.requests.post(poster.id, draft())
        found = services.requests.matches(request.id).items
        assert [m.skill.id for m in found] == [relevant.id, cheap.id]
        assert found[0].relevance == 1.0 > found[1].relevance
        assert found[0].score > found[1].score

    def test_remote_ref_is_unproven(self, services, poster, publish):
        skill = publish(
            "remote-ref", obj("items", items=ITEMS), {"$ref": "https://example.com/out"}
        )
        request = services.requests.post(poster.id, draft())
        (match,) = services.requests.matches(request.id).items
        assert match.skill.id == skill.id and not match.proven
        assert "remote or recursive" in match.caveats[0]

    def test_sync_indexes_rows_loaded_without_the_catalog(
        self, services, poster, publish, database
    ):
        skill = publish("loaded-later", obj("items", items=ITEMS), obj("total", total=NUM))
        with database.write() as conn:
            conn.execute(sa.delete(skill_shape_names))
            conn.execute(sa.delete(skill_shapes))
        request = services.requests.post(poster.id, draft())
        assert services.requests.matches(request.id).items == []
        assert services.requests.sync_shapes() == 1
        assert services.requests.sync_shapes() == 0
        assert [m.skill.id for m in services.requests.matches(request.id).items] == [skill.id]
        with database.read() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(skills)).scalar_one() == 1


class TestCompositions:
    def test_two_step_chain(self, services, poster, publish):
        fetch = publish("fetch-page", obj("url", url=STR), obj("text", text=STR), price=2)
        summarize = publish(
            "summarize", obj("text", text=STR), obj("summary", summary=STR), price=3
        )
        request = services.requests.post(
            poster.id,
            draft(
                description="Summarise a web page",
                input_schema=obj("url", url=STR),
                output_schema=obj("summary", summary=STR),
                max_price_cents=5,
            ),
        )
        assert services.requests.matches(request.id).items == []
        (chain,) = services.requests.compositions(request.id).items
        assert [s.skill.id for s in chain.steps] == [fetch.id, summarize.id]
        assert chain.total_price_cents == 5 and chain.proven
        assert [m.path for m in chain.steps[1].input] == ["text"]
        assert [m.path for m in chain.output] == ["summary"]

    def test_chains_stay_within_the_price(self, services, poster, publish):
        publish("fetch-page", obj("url", url=STR), obj("text", text=STR), price=3)
        publish("summarize", obj("text", text=STR), obj("summary", summary=STR), price=3)
        request = services.requests.post(
            poster.id,
            draft(
                input_schema=obj("url", url=STR),
                output_schema=obj("summary", summary=STR),
                max_price_cents=5,
            ),
        )
        assert services.requests.compositions(request.id).items == []

    def test_three_step_chain_and_shorter_first(self, services, poster, publish):
        fetch = publish("fetch-html", obj("url", url=STR), obj("html", html=STR))
        extract = publish("html-to-text", obj("html", html=STR), obj("text", text=STR))
        summarize = publish("summarize", obj("text", text=STR), obj("summary", summary=STR))
        request = services.requests.post(
            poster.id,
            draft(
                description="Summarise a web page",
                input_schema=obj("url", url=STR),
                output_schema=obj("summary", summary=STR, words=INT),
            ),
        )
        (chain,) = services.requests.compositions(request.id).items
        assert [s.skill.id for s in chain.steps] == [fetch.id, extract.id, summarize.id]
        shortcut = publish("fetch-text", obj("url", url=STR), obj("text", text=STR), price=1)
        chains = services.requests.compositions(request.id).items
        assert [s.skill.id for s in chains[0].steps] == [shortcut.id, summarize.id]
        assert chains[0].score > chains[1].score

    def test_chains_leave_out_skills_that_match_alone(self, services, poster, publish):
        publish("fetch-page", obj("url", url=STR), obj("text", text=STR))
        publish("summarize", obj("text", text=STR), obj("summary", summary=STR))
        whole = publish(
            "summarize-page", obj("url", url=STR), obj("summary", "text", summary=STR, text=STR)
        )
        request = services.requests.post(
            poster.id,
            draft(input_schema=obj("url", url=STR), output_schema=obj("summary", summary=STR)),
        )
        chains = services.requests.compositions(request.id).items
        assert chains and all(whole.id not in {s.skill.id for s in c.steps} for c in chains)


class TestPrefilter:
    """The SQL pre-filter keeps every skill the full check accepts (brute force over all)."""

    FIELDS = {
        "text": STR,
        "count": INT,
        "total": NUM,
        "tags": {"type": "array", "items": STR},
        "kind": {"enum": ["a", "b"]},
        "meta": obj("id", id=INT),
    }

    def _schema(self, rng):
        kind = rng.random()
        if kind < 0.1:
            return rng.choice([STR, INT, NUM, {}, {"type": ["string", "null"]}])
        if kind < 0.15:
            return {"anyOf": [self._schema(rng), self._schema(rng)]}
        names = rng.sample(sorted(self.FIELDS), rng.randint(0, 4))
        props = {n: rng.choice([self.FIELDS[n], STR, INT, NUM]) for n in names}
        required = [n for n in names if rng.random() < 0.6]
        return {
            "type": rng.choice(["object", "object", ["object", "null"]]),
            "required": required,
            "properties": props,
        }

    def test_prefilter_never_drops_a_match(self, services, poster, publish):
        import random

        from skillmarket.requests.compatibility import check

        rng = random.Random(5)
        published = []
        for i in range(40):
            inputs, outputs = self._schema(rng), self._schema(rng)
            skill = publish(f"random-{i}", inputs, outputs, price=rng.choice([0, 1, 5]))
            published.append((skill.id, inputs, outputs, skill.price_cents))
        hits = 0
        for _ in range(25):
            wanted = draft(
                input_schema=self._schema(rng),
                output_schema=self._schema(rng),
                max_price_cents=rng.choice([0, 5]),
            )
            request = services.requests.post(poster.id, wanted)
            brute = {
                skill_id
                for skill_id, inputs, outputs, price in published
                if price <= wanted.max_price_cents
                and check(wanted.input_schema, inputs).compatible
                and check(outputs, wanted.output_schema).compatible
            }
            found = {m.skill.id for m in services.requests.matches(request.id, limit=50).items}
            assert found == brute
            hits += len(brute)
        assert hits >= 10  # the random set does produce matches

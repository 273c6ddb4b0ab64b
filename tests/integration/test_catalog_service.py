"""The catalog on a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from skillmarket.audit.tables import audit_events, audit_head
from skillmarket.catalog.errors import (
    NotSkillPublisher,
    SkillNameTaken,
    SkillNotFound,
    VersionConflict,
)
from skillmarket.catalog.manifest import SkillManifest
from skillmarket.catalog.search import SearchFilters
from skillmarket.catalog.tables import skill_names, skills


def publish(services, publisher_id, manifest_dict):
    return services.catalog.publish(publisher_id, SkillManifest.model_validate(manifest_dict))


def names(page):
    return [s.name for s in page.items]


def count(database, table):
    with database.read() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


class TestPublish:
    def test_publish_returns_fingerprint_and_writes_audit_event(
        self, services, database, operator_factory, manifest_factory
    ):
        alice, _ = operator_factory()
        manifest = manifest_factory(name="invoice-total")
        result = publish(services, alice.id, manifest)
        assert result.created
        assert result.skill.fingerprint == SkillManifest.model_validate(manifest).fingerprint()
        assert result.skill.is_latest
        with database.read() as conn:
            event = conn.execute(
                sa.select(audit_events).where(audit_events.c.subject == result.skill.id)
            ).one()
        assert event.type == "skill.publish"
        assert event.actor == alice.id
        assert event.data["fingerprint"] == result.skill.fingerprint
        assert "execution_steps" not in event.data  # metadata only, never logic

    def test_republish_identical_is_idempotent(
        self, services, database, operator_factory, manifest_factory
    ):
        alice, _ = operator_factory()
        manifest = manifest_factory()
        first = publish(services, alice.id, manifest)
        events = count(database, audit_events)
        again = publish(services, alice.id, {**manifest, "tags": list(reversed(manifest["tags"]))})
        assert not again.created
        assert again.skill.id == first.skill.id
        assert count(database, audit_events) == events
        assert count(database, skills) == 1

    def test_publish_fails_changed_content_under_same_version(
        self, services, operator_factory, manifest_factory
    ):
        alice, _ = operator_factory()
        manifest = manifest_factory()
        publish(services, alice.id, manifest)
        with pytest.raises(VersionConflict) as info:
            publish(services, alice.id, {**manifest, "description": "Changed."})
        assert info.value.details["published_fingerprint"] != info.value.details["fingerprint"]

    def test_publish_fails_name_owned_by_other_publisher(
        self, services, database, operator_factory, manifest_factory
    ):
        alice, _ = operator_factory()
        bob, _ = operator_factory()
        publish(services, alice.id, manifest_factory(name="shared-name"))
        before = (count(database, skills), count(database, audit_events))
        with pytest.raises(SkillNameTaken):
            publish(services, bob.id, manifest_factory(name="shared-name", version="2.0.0"))
        assert (count(database, skills), count(database, audit_events)) == before

    def test_failed_publish_leaves_nothing_half_written(
        self, services, database, operator_factory, manifest_factory, monkeypatch
    ):
        alice, _ = operator_factory()
        from skillmarket.catalog import services as catalog_services

        def broken(*_args, **_kwargs):
            raise RuntimeError("index unavailable")

        monkeypatch.setattr(catalog_services.search_index, "index_skill", broken)
        before = [count(database, t) for t in (skills, skill_names, audit_events, audit_head)]
        with pytest.raises(RuntimeError):
            publish(services, alice.id, manifest_factory(name="never-lands"))
        after = [count(database, t) for t in (skills, skill_names, audit_events, audit_head)]
        assert after == before
        with database.read() as conn:
            size = conn.execute(sa.select(audit_head.c.size)).scalar_one()
        assert size == count(database, audit_events)


class TestLatestAndDeprecation:
    def test_latest_is_highest_semver_not_newest(
        self, services, operator_factory, manifest_factory
    ):
        alice, _ = operator_factory()
        for version in ["1.10.0", "1.2.0", "1.10.0-rc.1"]:
            publish(services, alice.id, manifest_factory(name="calc", version=version))
        page = services.catalog.search(SearchFilters(query="calc"))
        assert [(s.name, s.version) for s in page.items] == [("calc", "1.10.0")]

    def test_deprecating_latest_falls_back_and_reindexes(
        self, services, operator_factory, manifest_factory
    ):
        alice, _ = operator_factory()
        old = publish(services, alice.id, manifest_factory(name="calc", version="1.0.0"))
        new = publish(services, alice.id, manifest_factory(name="calc", version="2.0.0"))
        detail = services.catalog.deprecate(alice.id, new.skill.id, "broken rounding")
        assert detail.deprecated and detail.deprecation_reason == "broken rounding"
        assert not detail.is_latest
        page = services.catalog.search(SearchFilters(query="calc"))
        assert [s.id for s in page.items] == [old.skill.id]
        services.catalog.deprecate(alice.id, old.skill.id, None)
        assert services.catalog.search(SearchFilters(query="calc")).items == []
        assert services.catalog.get(old.skill.id, None).deprecated  # still readable by id

    def test_deprecate_fails_for_non_publisher(self, services, operator_factory, manifest_factory):
        alice, _ = operator_factory()
        bob, _ = operator_factory()
        skill = publish(services, alice.id, manifest_factory()).skill
        with pytest.raises(NotSkillPublisher):
            services.catalog.deprecate(bob.id, skill.id, None)


class TestSearch:
    @pytest.fixture
    def catalog(self, services, operator_factory, manifest_factory):
        alice, _ = operator_factory()
        entries = [
            ("invoice-total", "Adds up invoice line items.", ["finance"], "L0"),
            ("summarize-text", "Summarises long text about invoices.", ["text"], "L1"),
            ("weather-now", "Current weather for a city.", ["weather", "finance"], "L2"),
            ("translate-document", "Translates text between languages.", ["text"], "L0"),
        ]
        for name, description, tags, level in entries:
            publish(
                services,
                alice.id,
                manifest_factory(
                    name=name, description=description, tags=tags, trust_level_required=level
                ),
            )
        return services.catalog

    def test_name_match_ranks_above_description_match(self, catalog):
        assert names(catalog.search(SearchFilters(query="invoice"))) == [
            "invoice-total",
            "summarize-text",
        ]

    def test_every_word_must_match_as_prefix(self, catalog):
        assert names(catalog.search(SearchFilters(query="transl text"))) == ["translate-document"]
        assert names(catalog.search(SearchFilters(query="weather invoice"))) == []

    def test_filters_by_trust_level_and_tags(self, catalog):
        assert names(catalog.search(SearchFilters(trust_level="L0"))) == [
            "invoice-total",
            "translate-document",
        ]
        assert names(catalog.search(SearchFilters(tags=("finance",)))) == [
            "invoice-total",
            "weather-now",
        ]
        assert names(catalog.search(SearchFilters(tags=("finance", "weather")))) == ["weather-now"]
        assert names(
            catalog.search(SearchFilters(query="text", tags=("text",), trust_level="L1"))
        ) == ["summarize-text"]

    def test_tag_filter_is_exact_with_and_without_query(
        self, services, operator_factory, manifest_factory
    ):
        alice, _ = operator_factory()
        publish(services, alice.id, manifest_factory(name="crm-sync", tags=["sales-ops"]))
        publish(services, alice.id, manifest_factory(name="crm-export", tags=["ops"]))
        for query in (None, "crm"):
            page = services.catalog.search(SearchFilters(query=query, tags=("ops",)))
            assert names(page) == ["crm-export"]

    def test_paging_reports_more(self, catalog):
        first = catalog.search(SearchFilters(limit=3))
        second = catalog.search(SearchFilters(limit=3, offset=3))
        assert first.has_more and not second.has_more
        assert len(first.items) == 3 and len(second.items) == 1

    def test_query_punctuation_cannot_break_the_index(self, catalog):
        for query in ['"', "AND OR NOT", "a*b", "NEAR(", "x:y", "'; drop", "((", "!!!"]:
            catalog.search(SearchFilters(query=query))

    def test_unknown_skill_raises_not_found(self, services):
        with pytest.raises(SkillNotFound):
            services.catalog.get("skl_missing", None)


def test_version_is_read_once_and_then_served_from_memory(services, operator_factory):
    operator, _key = operator_factory()
    published = services.catalog.publish(
        operator.id,
        SkillManifest.model_validate(
            {
                "name": "cached-one",
                "version": "1.0.0",
                "description": "A skill read by invocations.",
                "execution_mode": "sealed",
                "input_schema": {},
                "output_schema": {},
                "execution_steps": [{"type": "script", "runtime": "javascript", "code": "1"}],
            }
        ),
    ).skill
    reads: list[str] = []
    sa.event.listen(services.db.engine, "before_cursor_execute", lambda *a: reads.append(a[2]))
    first = services.catalog.version(published.id)
    assert reads and first.id == published.id
    assert first.steps_redacted  # as anyone but the publisher sees it: never the code
    reads.clear()
    assert services.catalog.version(published.id) is first
    assert reads == []
    with pytest.raises(SkillNotFound):
        services.catalog.version("skl_missing")

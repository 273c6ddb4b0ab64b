"""Publishing, reading, searching and deprecating skills.

A published name@version is immutable: republishing identical content (the same fingerprint)
returns the existing version, anything else is a ``VERSION_CONFLICT``. The first publisher of a
name owns it. Each name has at most one *latest* version — the highest semver that is not
deprecated — and only that one is in the search index.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import semver
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from skillmarket.audit import log
from skillmarket.audit.events import EventType
from skillmarket.catalog import search as search_index
from skillmarket.catalog.errors import (
    NotSkillPublisher,
    SkillNameTaken,
    SkillNotFound,
    VersionConflict,
)
from skillmarket.catalog.listeners import CatalogListener, PublishedVersion
from skillmarket.catalog.manifest import SkillManifest, redacted_steps
from skillmarket.catalog.models import (
    PublishResult,
    RatingBrief,
    SkillDetail,
    SkillPage,
    SkillSummary,
    VersionRef,
)
from skillmarket.catalog.sealed import SealedLogic
from skillmarket.catalog.tables import skill_names, skill_secrets, skill_tags, skills
from skillmarket.db import Database, utcnow
from skillmarket.ids import new_id

VERSION_CACHE_SIZE = 4096  # skill versions kept for the invocation path (see version())


def summary(row: sa.Row) -> SkillSummary:
    """The list view of a skills row (with its rating when the row carries one)."""
    return SkillSummary(
        id=row.id,
        name=row.name,
        version=row.version,
        description=row.description,
        tags=row.manifest.get("tags", []),
        publisher_id=row.publisher_id,
        execution_mode=row.execution_mode,
        credential_mode=row.credential_mode,
        trust_level_required=row.trust_level_required,
        price_cents=row.price_cents,
        fingerprint=row.fingerprint,
        is_latest=row.is_latest,
        deprecated=row.deprecated_at is not None,
        created_at=row.created_at,
        rating=RatingBrief.of(
            getattr(row, "rating_count", None),
            getattr(row, "rating_mean", None),
            getattr(row, "rating_score", None),
        ),
    )


def published_version(row: sa.Row) -> PublishedVersion:
    """What listeners learn of a skills row."""
    return PublishedVersion(
        skill_id=row.id,
        price_cents=row.price_cents,
        input_schema=row.manifest["input_schema"],
        output_schema=row.manifest["output_schema"],
        is_latest=row.is_latest,
    )


def detail(
    row: sa.Row,
    viewer_id: str | None,
    versions: list[VersionRef],
    version_rating: RatingBrief | None = None,
) -> SkillDetail:
    """The detail view of a skills row as ``viewer_id`` may see it."""
    manifest: dict[str, Any] = row.manifest
    steps = manifest.get("execution_steps", [])
    # Sealed logic is stored encrypted and never returned, not even to its publisher (who can
    # check what was published by its fingerprint): the steps show their shape only.
    redact = row.execution_mode == "sealed"
    return SkillDetail(
        **summary(row).model_dump(),
        services=manifest.get("services", []),
        input_schema=manifest["input_schema"],
        output_schema=manifest["output_schema"],
        execution_steps=redacted_steps(steps) if redact else steps,
        steps_redacted=redact,
        timeout_seconds=manifest["timeout_seconds"],
        deprecated_at=row.deprecated_at,
        deprecation_reason=row.deprecation_reason,
        versions=versions,
        version_rating=version_rating or RatingBrief(),
    )


class CatalogService:
    """The skill catalog on the database."""

    def __init__(
        self, db: Database, sealed: SealedLogic, listeners: Iterable[CatalogListener] = ()
    ):
        self.db = db
        self.sealed = sealed
        self.listeners = list(listeners)
        self.ratings: search_index.RatingColumns | None = None
        self._version_cache: dict[str, SkillDetail] = {}
        self._version_lock = threading.Lock()

    def add_listener(self, listener: CatalogListener) -> None:
        """Tell ``listener`` about every later publish and latest-version change."""
        self.listeners.append(listener)

    def set_ratings(self, ratings: search_index.RatingColumns) -> None:
        """Read ratings from ``ratings`` (the reputation domain's) in views and search."""
        self.ratings = ratings

    def _select(self) -> sa.Select:
        """``SELECT`` of skills rows with their skill's rating."""
        return search_index.rated(sa.select(skills), self.ratings)

    def _by_id(self, conn: Connection, skill_id: str) -> sa.Row | None:
        return conn.execute(self._select().where(skills.c.id == skill_id)).first()

    def _version_rating(self, conn: Connection, skill_id: str) -> RatingBrief:
        if self.ratings is None:
            return RatingBrief()
        table = self.ratings.by_version
        row = conn.execute(
            sa.select(table.c.count, table.c.mean, table.c.score).where(
                table.c.skill_id == skill_id
            )
        ).first()
        return RatingBrief.of(*row) if row is not None else RatingBrief()

    def publish(self, publisher_id: str, manifest: SkillManifest) -> PublishResult:
        """Publish one immutable name@version (idempotent for identical content).

        Logic sealed to the marketplace key is opened first, so the fingerprint covers the logic
        itself; a sealed skill's logic is then stored encrypted (see :mod:`sealed`).
        """
        manifest = self.sealed.in_plain_text(manifest)
        fingerprint = manifest.fingerprint()
        with self.db.write() as conn:
            self._claim_name(conn, manifest.name, publisher_id)
            existing = conn.execute(
                self._select().where(
                    skills.c.name == manifest.name, skills.c.version == manifest.version
                )
            ).first()
            if existing is not None:
                if existing.fingerprint != fingerprint:
                    raise VersionConflict(
                        f"{manifest.name}@{manifest.version} is already published with "
                        "different content; publish a new version instead",
                        details={
                            "name": manifest.name,
                            "version": manifest.version,
                            "published_fingerprint": existing.fingerprint,
                            "fingerprint": fingerprint,
                        },
                    )
                return PublishResult(
                    skill=self._detail(conn, existing, publisher_id), created=False
                )
            skill_id = self._insert(conn, publisher_id, manifest, fingerprint)
            log.record(
                conn,
                EventType.SKILL_PUBLISH,
                actor=publisher_id,
                subject=skill_id,
                data={
                    "name": manifest.name,
                    "version": manifest.version,
                    "fingerprint": fingerprint,
                },
            )
            self._refresh_latest(conn, manifest.name)
            row = self._require(conn, skill_id)
            for listener in self.listeners:
                listener.version_published(conn, published_version(row))
            return PublishResult(skill=self._detail(conn, row, publisher_id), created=True)

    def _claim_name(self, conn: Connection, name: str, publisher_id: str) -> None:
        owner = conn.execute(
            sa.select(skill_names.c.publisher_id)
            .where(skill_names.c.name == name)
            .with_for_update()
        ).scalar()
        if owner is None:
            conn.execute(
                skill_names.insert().values(
                    name=name, publisher_id=publisher_id, created_at=utcnow()
                )
            )
        elif owner != publisher_id:
            raise SkillNameTaken(
                f"the skill name {name!r} belongs to another publisher", details={"name": name}
            )

    def _insert(
        self, conn: Connection, publisher_id: str, manifest: SkillManifest, fingerprint: str
    ) -> str:
        skill_id = new_id("skill")
        stored, secrets = self.sealed.seal(skill_id, manifest)
        conn.execute(
            skills.insert().values(
                id=skill_id,
                name=manifest.name,
                version=manifest.version,
                publisher_id=publisher_id,
                description=manifest.description,
                execution_mode=manifest.execution_mode,
                credential_mode=manifest.credential_mode,
                trust_level_required=manifest.trust_level_required,
                price_cents=manifest.price_cents,
                manifest=stored,
                fingerprint=fingerprint,
                is_latest=False,
                created_at=utcnow(),
            )
        )
        if secrets is not None:
            conn.execute(skill_secrets.insert().values(**secrets))
        if manifest.tags:
            conn.execute(
                skill_tags.insert(), [{"skill_id": skill_id, "tag": t} for t in manifest.tags]
            )
        return skill_id

    def _refresh_latest(self, conn: Connection, name: str) -> None:
        """Point the latest flag and the search index at the highest live version of ``name``."""
        rows = conn.execute(
            sa.select(
                skills.c.seq,
                skills.c.id,
                skills.c.version,
                skills.c.is_latest,
                skills.c.deprecated_at,
                skills.c.description,
                skills.c.manifest,
                skills.c.trust_level_required,
            ).where(skills.c.name == name)
        ).all()
        live = [r for r in rows if r.deprecated_at is None]
        best = max(live, key=lambda r: semver.Version.parse(r.version), default=None)
        for row in rows:
            should = best is not None and row.seq == best.seq
            if row.is_latest == should:
                continue
            conn.execute(skills.update().where(skills.c.seq == row.seq).values(is_latest=should))
            for listener in self.listeners:
                listener.latest_changed(conn, row.id, should)
            if should:
                search_index.index_skill(
                    conn,
                    row.seq,
                    name,
                    row.manifest.get("tags", []),
                    row.description,
                    row.trust_level_required,
                )
            else:
                search_index.unindex_skill(conn, row.seq)

    def _versions(self, conn: Connection, name: str) -> list[VersionRef]:
        rows = conn.execute(
            sa.select(
                skills.c.id, skills.c.version, skills.c.deprecated_at, skills.c.is_latest
            ).where(skills.c.name == name)
        ).all()
        refs = [
            VersionRef(
                id=r.id,
                version=r.version,
                deprecated=r.deprecated_at is not None,
                is_latest=r.is_latest,
            )
            for r in rows
        ]
        return sorted(refs, key=lambda v: semver.Version.parse(v.version), reverse=True)

    def _detail(self, conn: Connection, row: sa.Row, viewer_id: str | None) -> SkillDetail:
        return detail(
            row, viewer_id, self._versions(conn, row.name), self._version_rating(conn, row.id)
        )

    def _require(self, conn: Connection, skill_id: str) -> sa.Row:
        row = self._by_id(conn, skill_id)
        if row is None:
            raise SkillNotFound(f"no skill {skill_id!r}", details={"skill_id": skill_id})
        return row

    def get(self, skill_id: str, viewer_id: str | None) -> SkillDetail:
        """One skill version as ``viewer_id`` may see it."""
        with self.db.read() as conn:
            return self._detail(conn, self._require(conn, skill_id), viewer_id)

    def version(self, skill_id: str) -> SkillDetail:
        """One skill version as anyone but its publisher sees it, for the invocation path.

        A published version's content never changes, so it is kept in memory after the first
        read. Its mutable parts — deprecation, rating, the list of versions — may be stale
        here: read them with :meth:`get` where they matter.
        """
        found = self._version_cache.get(skill_id)
        if found is None:
            found = self.get(skill_id, None)
            with self._version_lock:
                if len(self._version_cache) >= VERSION_CACHE_SIZE:
                    self._version_cache.pop(next(iter(self._version_cache)))
                self._version_cache[skill_id] = found
        return found

    def search(self, filters: search_index.SearchFilters) -> SkillPage:
        """Latest versions matching ``filters``, ranked by relevance when there is a query."""
        with self.db.read() as conn:
            rows, has_more = search_index.search(conn, filters, self.ratings)
        return SkillPage(
            items=[summary(r) for r in rows],
            limit=filters.limit,
            offset=filters.offset,
            has_more=has_more,
        )

    def list_published(self, publisher_id: str) -> list[SkillSummary]:
        """Every version the publisher has published, deprecated ones included."""
        with self.db.read() as conn:
            rows = conn.execute(
                self._select()
                .where(skills.c.publisher_id == publisher_id)
                .order_by(skills.c.name, skills.c.seq)
            ).all()
        return [summary(r) for r in rows]

    def deprecate(self, publisher_id: str, skill_id: str, reason: str | None) -> SkillDetail:
        """Deprecate one version: it leaves search and stops being latest (idempotent)."""
        with self.db.write() as conn:
            row = self._require(conn, skill_id)
            if row.publisher_id != publisher_id:
                raise NotSkillPublisher(
                    "only the skill's publisher may deprecate it", details={"skill_id": skill_id}
                )
            if row.deprecated_at is None:
                conn.execute(
                    skills.update()
                    .where(skills.c.id == skill_id)
                    .values(deprecated_at=utcnow(), deprecation_reason=reason)
                )
                log.record(
                    conn,
                    EventType.SKILL_DEPRECATE,
                    actor=publisher_id,
                    subject=skill_id,
                    data={"name": row.name, "version": row.version},
                )
                self._refresh_latest(conn, row.name)
            return self._detail(conn, self._require(conn, skill_id), publisher_id)

    def execution_steps(
        self, skill_id: str, conn: Connection | None = None
    ) -> list[dict[str, Any]]:
        """A skill version's steps with their logic in plain text: for the execution path only,
        never for an API response or a log line. Read in ``conn``'s transaction when given."""
        skill = self.version(skill_id)
        if skill.execution_mode != "sealed":  # nothing sealed: the published steps as they are
            return [dict(step) for step in skill.execution_steps]
        if conn is None:
            with self.db.read() as own:
                return self.execution_steps(skill_id, own)
        row = self._require(conn, skill_id)
        return self.sealed.open_steps(conn, skill_id, row.manifest.get("execution_steps", []))

    def rotate_master_key(
        self,
        provider_rotate: Any,
        actor: str | None,
        also: Sequence[Callable[[Connection], int]] = (),
    ) -> tuple[str, int]:
        """Make a new master key current and re-wrap every sealed skill's data key under it,
        and, in the same transaction, every other data key ``also`` re-wraps (each returns
        how many it moved; the connected services' credentials, for one)."""
        kek_id = provider_rotate()
        with self.db.write() as conn:
            moved = self.sealed.rewrap_all(conn) + sum(rewrap(conn) for rewrap in also)
            log.record(
                conn,
                EventType.MASTER_KEY_ROTATE,
                actor=actor,
                subject=kek_id,
                data={"rewrapped": moved},
            )
        return kek_id, moved

    def count(self) -> int:
        """How many skill versions are published."""
        with self.db.read() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(skills)).scalar_one()

    def count_latest(self) -> int:
        """How many skill versions are the latest live version of their name."""
        with self.db.read() as conn:
            return conn.execute(
                sa.select(sa.func.count()).select_from(skills).where(skills.c.is_latest.is_(True))
            ).scalar_one()

    def published_versions(self) -> Iterator[PublishedVersion]:
        """Every published version, oldest first (for rebuilding derived data)."""
        with self.db.read() as conn:
            result = conn.execution_options(yield_per=1000).execute(
                sa.select(skills).order_by(skills.c.seq)
            )
            for row in result:
                yield published_version(row)

    def summaries(self, skill_ids: Iterable[str]) -> dict[str, SkillSummary]:
        """The list view of each of ``skill_ids`` that exists, by id."""
        wanted = list(dict.fromkeys(skill_ids))
        if not wanted:
            return {}
        with self.db.read() as conn:
            rows = conn.execute(self._select().where(skills.c.id.in_(wanted))).all()
        return {row.id: summary(row) for row in rows}

    def relevance(self, text: str, limit: int = 2000) -> dict[str, float]:
        """Latest skills sharing any word with ``text``, scored 0–1 (1 = best), by id."""
        words = search_index.relevance_words(text)
        if not words:
            return {}
        with self.db.read() as conn:
            return search_index.relevance(conn, words, limit)

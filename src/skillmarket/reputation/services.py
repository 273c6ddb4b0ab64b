"""Rating completed invocations, and reading rating summaries.

A rating belongs to one completed invocation (one rating each) and to the skill version that
invocation ran. Its transaction inserts the rating, folds it into the stored totals of its
version and of its skill (every version together) and writes a ``skill.rate`` audit event, so
either all of that lands or none of it. Reading a summary is one totals row; with a ``raters``
whitelist, the whitelisted raters' ratings are summed up on the spot instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import timedelta

import semver
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from skillmarket.audit import log
from skillmarket.audit.events import EventType
from skillmarket.catalog.errors import SkillNotFound
from skillmarket.catalog.models import SkillDetail, VersionRef
from skillmarket.catalog.search import RatingColumns
from skillmarket.catalog.services import CatalogService
from skillmarket.db import Database, utcnow
from skillmarket.ids import new_id
from skillmarket.invocations.errors import InvocationNotFound
from skillmarket.invocations.services import InvocationService
from skillmarket.reputation import totals as stored
from skillmarket.reputation.errors import (
    AlreadyRated,
    InvocationNotCompleted,
    InvocationSkillMismatch,
    SelfRatingForbidden,
)
from skillmarket.reputation.models import (
    PRIOR_MEAN,
    RateResult,
    RatingDraft,
    RatingsPage,
    RatingView,
    Totals,
    VersionRatings,
    check_raters,
    summarize,
    unit_score,
)
from skillmarket.reputation.tables import rating_totals, rating_version_totals, ratings


def view(row: sa.Row) -> RatingView:
    """The public view of a ratings row."""
    return RatingView(
        id=row.id,
        skill_id=row.skill_id,
        version=row.skill_version,
        rater_id=row.rater_id,
        score=row.score,
        comment=row.comment,
        created_at=row.created_at,
    )


def comment_hash(comment: str | None) -> str | None:
    """``sha256:`` of a comment's UTF-8 text: what the audit log keeps instead of the text."""
    if comment is None:
        return None
    return "sha256:" + hashlib.sha256(comment.encode()).hexdigest()


class ReputationService:
    """Ratings on the database, checked against the invocations and the catalog."""

    def __init__(
        self,
        db: Database,
        catalog: CatalogService,
        invocations: InvocationService,
        half_life: timedelta,
    ):
        self.db = db
        self.catalog = catalog
        self.invocations = invocations
        self.half_life = half_life

    def columns(self) -> RatingColumns:
        """Where the catalog's views and search read ratings."""
        return RatingColumns(
            by_name=rating_totals, by_version=rating_version_totals, unrated_score=PRIOR_MEAN
        )

    def sync_totals(self) -> int:
        """Rebuild the stored totals if they were made with another half-life (at start-up);
        returns how many ratings were read (0 when in step)."""
        with self.db.read() as conn:
            if not stored.stale(conn, self.half_life):
                return 0
        with self.db.write() as conn:
            log.lock(conn)  # no rating may land half-way through the rebuild
            return stored.rebuild(conn, self.half_life)

    # --- rating ------------------------------------------------------------------------------

    def rate(self, rater_id: str, skill_id: str, draft: RatingDraft) -> RateResult:
        """Rate a completed invocation of ``skill_id`` (any version of that skill).

        1. The skill exists (``SKILL_NOT_FOUND``).
        2. The invocation exists and the rater bought it (``INVOCATION_NOT_FOUND`` otherwise,
           as polling it would say).
        3. It ran a version of this skill (``INVOCATION_SKILL_MISMATCH``).
        4. The rater is not the skill's publisher (``SELF_RATING_FORBIDDEN``).
        5. It completed (``INVOCATION_NOT_COMPLETED``).
        6. It has no rating yet (``ALREADY_RATED``).
        Then, in one transaction: the rating, both totals and the ``skill.rate`` event.
        """
        skill = self.catalog.get(skill_id, rater_id)
        try:
            with self.db.write() as conn:
                # Every rating transaction queues on the audit lock first, so the checks
                # below and the totals' read-then-write cannot interleave with another one.
                log.lock(conn)
                facts = self.invocations.facts(draft.invocation_id, conn)
                if facts is None or facts.buyer_id != rater_id:
                    raise InvocationNotFound(
                        f"no invocation {draft.invocation_id!r} bought by you",
                        details={"invocation_id": draft.invocation_id},
                    )
                rated = self._rated_version(skill, facts.skill_id, draft.invocation_id)
                if facts.publisher_id == rater_id:
                    raise SelfRatingForbidden(
                        "publishers may not rate their own skills", details={"skill_id": skill_id}
                    )
                if facts.status != "completed":
                    raise InvocationNotCompleted(
                        f"only a completed invocation can be rated; this one is {facts.status}",
                        details={"invocation_id": draft.invocation_id, "status": facts.status},
                    )
                self._require_unrated(conn, draft.invocation_id)
                return self._insert(conn, rater_id, skill, rated, draft)
        except IntegrityError:
            # The lock above makes this unlikely, but should a concurrent rating of the same
            # invocation win the unique index, say so instead of a 500 (nothing was written).
            with self.db.read() as conn:
                self._require_unrated(conn, draft.invocation_id)
            raise

    def _rated_version(self, skill: SkillDetail, ran: str, invocation_id: str) -> VersionRef:
        """The version of ``skill`` the invocation ran, or ``INVOCATION_SKILL_MISMATCH``."""
        for version in skill.versions:
            if version.id == ran:
                return version
        raise InvocationSkillMismatch(
            f"invocation {invocation_id!r} was not of skill {skill.name!r}",
            details={"invocation_id": invocation_id, "skill_id": skill.id},
        )

    def _require_unrated(self, conn: Connection, invocation_id: str) -> None:
        earlier = conn.execute(
            sa.select(ratings.c.id).where(ratings.c.invocation_id == invocation_id)
        ).scalar()
        if earlier is not None:
            raise AlreadyRated(
                "this invocation is already rated; ratings cannot be changed",
                details={"invocation_id": invocation_id, "rating_id": earlier},
            )

    def _insert(
        self,
        conn: Connection,
        rater_id: str,
        skill: SkillDetail,
        version: VersionRef,
        draft: RatingDraft,
    ) -> RateResult:
        rating_id, now = new_id("rating"), utcnow()
        conn.execute(
            ratings.insert().values(
                id=rating_id,
                invocation_id=draft.invocation_id,
                skill_id=version.id,
                skill_name=skill.name,
                skill_version=version.version,
                rater_id=rater_id,
                score=draft.score,
                comment=draft.comment,
                created_at=now,
            )
        )
        folded = {}
        for table, key in ((rating_totals, skill.name), (rating_version_totals, version.id)):
            folded[table.name] = stored.load(conn, table, key).add(draft.score, now, self.half_life)
            stored.save(conn, table, key, folded[table.name], self.half_life)
        log.record(
            conn,
            EventType.SKILL_RATE,
            actor=rater_id,
            subject=draft.invocation_id,
            parties=[skill.publisher_id],
            data={
                "rating_id": rating_id,
                "skill_id": version.id,
                "name": skill.name,
                "version": version.version,
                "score": draft.score,
                "comment_hash": comment_hash(draft.comment),
            },
        )
        row = conn.execute(sa.select(ratings).where(ratings.c.id == rating_id)).one()
        return RateResult(
            rating=view(row),
            invocation_id=draft.invocation_id,
            summary=folded[rating_totals.name].summary(),
            version_summary=folded[rating_version_totals.name].summary(),
        )

    # --- reading -----------------------------------------------------------------------------

    def ratings(
        self,
        skill_id: str,
        *,
        version: str | None = None,
        raters: Iterable[str] | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> RatingsPage:
        """A skill's summaries (whole skill, and per version: only ``version`` if given) and its
        ratings newest first, counting only ``raters`` when a whitelist is given
        (``RATERS_INVALID`` unless 1–100 operator ids)."""
        whitelist = check_raters(raters) if raters is not None else None
        skill = self.catalog.get(skill_id, None)
        versions = sorted(
            skill.versions, key=lambda v: semver.Version.parse(v.version), reverse=True
        )
        if version is not None:
            versions = [v for v in versions if v.version == version]
            if not versions:
                raise SkillNotFound(
                    f"{skill.name!r} has no version {version!r}",
                    details={"name": skill.name, "version": version},
                )
        with self.db.read() as conn:
            whole, per_version = self._totals(conn, skill.name, versions, whitelist)
            items, has_more = self._page(
                conn, skill.name, versions, version, whitelist, limit, offset
            )
        return RatingsPage(
            skill_id=skill.id,
            name=skill.name,
            raters=list(whitelist) if whitelist is not None else None,
            half_life_days=self.half_life / timedelta(days=1),
            summary=whole.summary(),
            versions=[
                VersionRatings(
                    skill_id=v.id, version=v.version, summary=per_version[v.id].summary()
                )
                for v in versions
                if version is not None or per_version[v.id].count
            ],
            items=items,
            limit=limit,
            offset=offset,
            has_more=has_more,
        )

    def _totals(
        self,
        conn: Connection,
        name: str,
        versions: list[VersionRef],
        raters: tuple[str, ...] | None,
    ) -> tuple[Totals, dict[str, Totals]]:
        """The whole skill's totals and each version's: stored, or summed over ``raters``."""
        ids = [v.id for v in versions]
        if raters is None:
            found = stored.load_many(conn, rating_version_totals, ids)
            return stored.load(conn, rating_totals, name), {i: found.get(i, Totals()) for i in ids}
        rows = conn.execute(
            sa.select(ratings.c.skill_id, ratings.c.score, ratings.c.created_at).where(
                ratings.c.skill_name == name, ratings.c.rater_id.in_(raters)
            )
        ).all()
        per_version = {
            i: summarize(((r.score, r.created_at) for r in rows if r.skill_id == i), self.half_life)
            for i in ids
        }
        return summarize(((r.score, r.created_at) for r in rows), self.half_life), per_version

    def _page(
        self,
        conn: Connection,
        name: str,
        versions: list[VersionRef],
        version: str | None,
        raters: tuple[str, ...] | None,
        limit: int,
        offset: int,
    ) -> tuple[list[RatingView], bool]:
        stmt = sa.select(ratings).where(ratings.c.skill_name == name)
        if version is not None:
            stmt = stmt.where(ratings.c.skill_id == versions[0].id)
        if raters is not None:
            stmt = stmt.where(ratings.c.rater_id.in_(raters))
        rows = conn.execute(
            stmt.order_by(ratings.c.seq.desc()).limit(limit + 1).offset(offset)
        ).all()
        return [view(r) for r in rows[:limit]], len(rows) > limit

    def scores(self, skill_ids: Iterable[str]) -> dict[str, float]:
        """Ranking scores as 0–1 of those of ``skill_ids`` whose skill is rated (every version
        together): the request matcher's :class:`~skillmarket.requests.ranking.RatingSource`."""
        found = self.catalog.summaries(skill_ids)  # each carries its skill's rating brief
        return {
            skill_id: unit_score(s.rating.score)
            for skill_id, s in found.items()
            if s.rating.count and s.rating.score is not None
        }

"""Posting, listing, reading and closing skill requests; their matches and chain suggestions.

Requests are public: every operator may list and read them, and ask for their matches, so
publishers can pick them up. Only the poster may close one; closing is idempotent. A closed
request stays readable by id but is no longer listed by default nor matched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from skillmarket.audit import log
from skillmarket.audit.events import EventType
from skillmarket.catalog.search import query_words
from skillmarket.catalog.services import CatalogService
from skillmarket.db import Database, utcnow
from skillmarket.ids import new_id
from skillmarket.requests.errors import NotRequestOwner, RequestClosed, RequestNotFound
from skillmarket.requests.index import ShapeIndex
from skillmarket.requests.matching import Matcher, Spec
from skillmarket.requests.models import (
    CompositionList,
    MatchList,
    RequestDraft,
    RequestPage,
    SkillRequest,
)
from skillmarket.requests.ranking import RatingSource
from skillmarket.requests.shapes import compact, consumer_shape, producer_shape
from skillmarket.requests.tables import skill_request_tags, skill_requests

Status = Literal["open", "closed", "all"]


@dataclass(frozen=True)
class RequestFilters:
    """What a request listing narrows by."""

    query: str | None = None
    tags: tuple[str, ...] = ()
    status: Status = "open"
    poster_id: str | None = None
    limit: int = 20
    offset: int = 0


def view(row: sa.Row) -> SkillRequest:
    """The public view of a skill_requests row."""
    return SkillRequest(
        id=row.id,
        poster_id=row.poster_id,
        description=row.description,
        input_schema=row.input_schema,
        output_schema=row.output_schema,
        max_price_cents=row.max_price_cents,
        tags=row.tags,
        fingerprint=row.fingerprint,
        status=row.status,
        created_at=row.created_at,
        closed_at=row.closed_at,
    )


class RequestsService:
    """Skill requests on the database, matched against the catalog."""

    def __init__(self, db: Database, catalog: CatalogService, ratings: RatingSource | None = None):
        self.db = db
        self.catalog = catalog
        self.index = ShapeIndex(db)
        self.matcher = Matcher(db, self.index, catalog, ratings)

    def sync_shapes(self) -> int:
        """Rebuild the schema signatures the catalog's listener did not write; return how many.

        Cheap when in step (three counts). Runs at start-up, after migrations.
        """
        rows, live, stale = self.index.counts()
        if (rows, live, stale) == (self.catalog.count(), self.catalog.count_latest(), 0):
            return 0
        return self.index.sync(self.catalog.published_versions())

    def post(self, poster_id: str, draft: RequestDraft) -> SkillRequest:
        """Publish a request for a capability; every operator can see it."""
        request_id = new_id("request")
        fingerprint = draft.fingerprint()
        with self.db.write() as conn:
            conn.execute(
                skill_requests.insert().values(
                    id=request_id,
                    poster_id=poster_id,
                    description=draft.description,
                    input_schema=draft.input_schema,
                    output_schema=draft.output_schema,
                    max_price_cents=draft.max_price_cents,
                    tags=list(draft.tags),
                    fingerprint=fingerprint,
                    status="open",
                    created_at=utcnow(),
                )
            )
            if draft.tags:
                conn.execute(
                    skill_request_tags.insert(),
                    [{"request_id": request_id, "tag": t} for t in draft.tags],
                )
            log.record(
                conn,
                EventType.REQUEST_POST,
                actor=poster_id,
                subject=request_id,
                data={"fingerprint": fingerprint, "max_price_cents": draft.max_price_cents},
            )
            return view(self._require(conn, request_id))

    def _require(self, conn: Connection, request_id: str) -> sa.Row:
        row = conn.execute(
            sa.select(skill_requests).where(skill_requests.c.id == request_id)
        ).first()
        if row is None:
            raise RequestNotFound(f"no request {request_id!r}", details={"request_id": request_id})
        return row

    def get(self, request_id: str) -> SkillRequest:
        """One request, open or closed."""
        with self.db.read() as conn:
            return view(self._require(conn, request_id))

    def list(self, filters: RequestFilters) -> RequestPage:
        """Requests matching ``filters``, newest first."""
        r = skill_requests
        stmt = sa.select(r)
        if filters.status != "all":
            stmt = stmt.where(r.c.status == filters.status)
        if filters.poster_id:
            stmt = stmt.where(r.c.poster_id == filters.poster_id)
        for word in query_words(filters.query):
            stmt = stmt.where(sa.func.lower(r.c.description).contains(word, autoescape=True))
        for tag in filters.tags:
            stmt = stmt.where(
                sa.exists().where(
                    skill_request_tags.c.request_id == r.c.id, skill_request_tags.c.tag == tag
                )
            )
        stmt = stmt.order_by(r.c.seq.desc()).limit(filters.limit + 1).offset(filters.offset)
        with self.db.read() as conn:
            rows = conn.execute(stmt).all()
        return RequestPage(
            items=[view(row) for row in rows[: filters.limit]],
            limit=filters.limit,
            offset=filters.offset,
            has_more=len(rows) > filters.limit,
        )

    def close(self, operator_id: str, request_id: str) -> SkillRequest:
        """Close a request (its poster only; closing a closed request changes nothing)."""
        with self.db.write() as conn:
            row = self._require(conn, request_id)
            if row.poster_id != operator_id:
                raise NotRequestOwner(
                    "only the request's poster may close it", details={"request_id": request_id}
                )
            if row.status == "open":
                conn.execute(
                    skill_requests.update()
                    .where(skill_requests.c.id == request_id)
                    .values(status="closed", closed_at=utcnow())
                )
                log.record(conn, EventType.REQUEST_CLOSE, actor=operator_id, subject=request_id)
            return view(self._require(conn, request_id))

    def _spec(self, request_id: str) -> Spec:
        request = self.get(request_id)
        if request.status != "open":
            raise RequestClosed(
                "the request is closed; closed requests are not matched",
                details={
                    "request_id": request_id,
                    "closed_at": request.closed_at.isoformat() if request.closed_at else None,
                },
            )
        inputs, outputs = compact(request.input_schema), compact(request.output_schema)
        return Spec(
            id=request.id,
            text=" ".join([request.description, *request.tags]),
            input=inputs,
            output=outputs,
            producer=producer_shape(inputs),
            consumer=consumer_shape(outputs),
            max_price_cents=request.max_price_cents,
        )

    def matches(self, request_id: str, *, limit: int = 10, proven_only: bool = False) -> MatchList:
        """Skills that alone do what the request asks, within its price, best first."""
        return self.matcher.matches(self._spec(request_id), limit=limit, proven_only=proven_only)

    def compositions(
        self, request_id: str, *, limit: int = 10, proven_only: bool = False
    ) -> CompositionList:
        """Chains of two or three skills that together do it (advice only), best first."""
        return self.matcher.compositions(
            self._spec(request_id), limit=limit, proven_only=proven_only
        )

"""The schema signature of every skill version, kept in step with the catalog, and its queries.

Why a stored signature: matching a request against 10,000+ skills must not read and parse every
skill's manifest. Each version's schemas are compacted once, when it is published (the catalog
calls :meth:`ShapeIndex.version_published` in the publish transaction), into a ``skill_shapes``
row with the root type bits of both sides, plus one ``skill_shape_names`` row per top-level
property name the input requires or the output guarantees. :meth:`ShapeIndex.candidates` then
narrows the catalog in SQL — latest live versions, within the price, types that can fit, no
required input the request does not guarantee, every required output name present — and only
that bounded set is checked in full, in Python, from the compacted schemas (cached per process:
a version's schemas never change).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from skillmarket.catalog.listeners import PublishedVersion
from skillmarket.db import Database
from skillmarket.requests.shapes import (
    ALL,
    OBJECT,
    OPAQUE_PRODUCER,
    Shape,
    compact,
    consumer_shape,
    producer_shape,
)
from skillmarket.requests.tables import skill_shape_names, skill_shapes

# Bump when compaction or shapes change: sync() recomputes rows of older versions.
SHAPE_VERSION = 1
MAX_NAME = 200
CACHE_SIZE = 50_000


@dataclass(frozen=True)
class Candidate:
    """A skill that passed the SQL pre-filter."""

    skill_id: str
    price_cents: int


@dataclass(frozen=True)
class SkillSchemas:
    """A skill version's compacted schemas and their shapes."""

    input: Any
    output: Any
    accepts: Shape
    produces: Shape


def signature(version: PublishedVersion) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The ``skill_shapes`` row and ``skill_shape_names`` rows of one version."""
    inputs, outputs = compact(version.input_schema), compact(version.output_schema)
    accepts, produces = consumer_shape(inputs), producer_shape(outputs)
    if any(len(n) > MAX_NAME for n in produces.names):
        produces = OPAQUE_PRODUCER  # a name we cannot index: let the full check decide
    names = [
        {"skill_id": version.skill_id, "side": side, "name": name}
        for side, found in (("i", accepts.names), ("o", produces.names))
        for name in sorted(found)
        if len(name) <= MAX_NAME
    ]
    row = {
        "skill_id": version.skill_id,
        "live": version.is_latest,
        "price_cents": version.price_cents,
        "accepts": accepts.types,
        "produces": produces.types,
        "requires": sum(1 for n in names if n["side"] == "i"),
        "shape_version": SHAPE_VERSION,
        "input_schema": inputs,
        "output_schema": outputs,
    }
    return row, names


class ShapeIndex:
    """``skill_shapes`` on the database: a catalog listener, the pre-filter and a cache."""

    def __init__(self, db: Database):
        self.db = db
        self._cache: OrderedDict[str, SkillSchemas] = OrderedDict()
        self._lock = threading.Lock()

    # -- keeping in step with the catalog (CatalogListener) ----------------------------------

    def version_published(self, conn: Connection, version: PublishedVersion) -> None:
        """Store the signature of a newly published version."""
        row, names = signature(version)
        conn.execute(skill_shapes.insert(), row)
        if names:
            conn.execute(skill_shape_names.insert(), names)

    def latest_changed(self, conn: Connection, skill_id: str, is_latest: bool) -> None:
        """Follow the catalog's latest flag."""
        conn.execute(
            skill_shapes.update().where(skill_shapes.c.skill_id == skill_id).values(live=is_latest)
        )

    def sync(self, versions: Iterable[PublishedVersion]) -> int:
        """Bring the index in line with ``versions`` (all of them); return rows changed.

        Needed after rows were added to the catalog without the listener (bulk loads), on a
        store that predates this index, or after :data:`SHAPE_VERSION` changed.
        """
        with self.db.read() as conn:
            have = {
                r.skill_id: (r.live, r.shape_version)
                for r in conn.execute(
                    sa.select(
                        skill_shapes.c.skill_id, skill_shapes.c.live, skill_shapes.c.shape_version
                    )
                )
            }
        changed = 0
        batch: list[PublishedVersion] = []
        for version in versions:
            known = have.get(version.skill_id)
            if known != (version.is_latest, SHAPE_VERSION):
                batch.append(version)
            if len(batch) >= 1000:
                changed += self._rewrite(batch)
                batch = []
        changed += self._rewrite(batch) if batch else 0
        if changed and not self.db.is_sqlite:
            # Fresh statistics, so the planner sees how many rows the pre-filter narrows.
            with self.db.write() as conn:
                conn.exec_driver_sql("ANALYZE skill_shapes, skill_shape_names")
        return changed

    def _rewrite(self, versions: list[PublishedVersion]) -> int:
        ids = [v.skill_id for v in versions]
        rows = [signature(v) for v in versions]
        with self.db.write() as conn:
            conn.execute(skill_shape_names.delete().where(skill_shape_names.c.skill_id.in_(ids)))
            conn.execute(skill_shapes.delete().where(skill_shapes.c.skill_id.in_(ids)))
            conn.execute(skill_shapes.insert(), [row for row, _ in rows])
            names = [n for _, found in rows for n in found]
            if names:
                conn.execute(skill_shape_names.insert(), names)
        return len(versions)

    def counts(self) -> tuple[int, int, int]:
        """(rows, live rows, rows of an older shape version): a cheap in-step test."""
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(
                    sa.func.count(),
                    sa.func.count().filter(skill_shapes.c.live.is_(True)),
                    sa.func.count().filter(skill_shapes.c.shape_version != SHAPE_VERSION),
                )
            ).one()
        return int(row[0]), int(row[1]), int(row[2])

    # -- the pre-filter ----------------------------------------------------------------------

    def candidates(
        self,
        conn: Connection,
        *,
        max_price: int,
        input_from: Shape | None = None,
        any_input: bool = False,
        output_to: Shape | None = None,
        exclude: Iterable[str] = (),
        limit: int = 5000,
    ) -> tuple[list[Candidate], bool]:
        """Live skills within ``max_price`` that may accept ``input_from`` and may give what
        ``output_to`` needs, cheapest first, at most ``limit``; and whether more passed.

        ``any_input`` asks for skills accepting at least one of ``input_from``'s types (its
        shape is then a union of several producers: the middle of a chain).
        """
        sh = skill_shapes
        stmt = sa.select(sh.c.skill_id, sh.c.price_cents).where(
            sh.c.live.is_(True), sh.c.price_cents <= max_price
        )
        if input_from is not None and input_from.types:
            p = input_from
            bits = sh.c.accepts.op("&")(p.types)
            stmt = stmt.where(bits != 0 if any_input else bits == p.types)
            if p.types & OBJECT and (not any_input or p.types == OBJECT):
                stmt = stmt.where(self._given(p.names, sqlite=conn.dialect.name == "sqlite"))
        if output_to is not None:
            stmt = self._gives(stmt, output_to)
        exclude = list(exclude)
        if exclude:
            stmt = stmt.where(sh.c.skill_id.not_in(exclude))
        stmt = stmt.order_by(sh.c.price_cents, sh.c.skill_id).limit(limit + 1)
        found = [Candidate(r.skill_id, r.price_cents) for r in conn.execute(stmt)]
        return found[:limit], len(found) > limit

    @staticmethod
    def _given(names: frozenset[str], *, sqlite: bool) -> sa.ColumnElement[bool]:
        """Every input name the skill requires is among ``names``.

        SQLite answers a correlated NOT EXISTS from the names table's primary key fastest;
        PostgreSQL may plan that as a nested loop on stale statistics (seconds at 10,000
        skills), so it gets one grouped semi-join against the ``requires`` count instead.
        """
        sh, nm = skill_shapes, skill_shape_names
        if not names:
            return sh.c.requires == 0
        if sqlite:
            return ~sa.exists().where(
                nm.c.skill_id == sh.c.skill_id, nm.c.side == "i", nm.c.name.not_in(sorted(names))
            )
        inner = skill_shapes.alias("inner")
        all_given = (
            sa.select(nm.c.skill_id)
            .join(inner, inner.c.skill_id == nm.c.skill_id)
            .where(nm.c.side == "i", nm.c.name.in_(sorted(names)))
            .group_by(nm.c.skill_id, inner.c.requires)
            .having(sa.func.count() == inner.c.requires)
        )
        return sa.or_(sh.c.requires == 0, sh.c.skill_id.in_(all_given))

    @staticmethod
    def _gives(stmt: sa.Select, consumer: Shape) -> sa.Select:
        sh, nm = skill_shapes, skill_shape_names
        stmt = stmt.where(sh.c.produces.op("&")(ALL & ~consumer.types) == 0)
        if not (consumer.names and consumer.types & OBJECT):
            return stmt
        names = sorted(consumer.names)
        no_objects = sh.c.produces.op("&")(OBJECT) == 0
        if any(len(n) > MAX_NAME for n in names):
            return stmt.where(no_objects)
        having_all = (
            sa.select(nm.c.skill_id)
            .where(nm.c.side == "o", nm.c.name.in_(names))
            .group_by(nm.c.skill_id)
            .having(sa.func.count() == len(names))
        )
        return stmt.where(sa.or_(no_objects, sh.c.skill_id.in_(having_all)))

    # -- full schemas, cached ----------------------------------------------------------------

    def schemas(self, skill_ids: Iterable[str]) -> dict[str, SkillSchemas]:
        """The compacted schemas of each of ``skill_ids`` (from the cache when there)."""
        wanted = list(dict.fromkeys(skill_ids))
        with self._lock:
            out = {i: self._cache[i] for i in wanted if i in self._cache}
        missing = [i for i in wanted if i not in out]
        if missing:
            with self.db.read() as conn:
                rows = conn.execute(
                    sa.select(
                        skill_shapes.c.skill_id,
                        skill_shapes.c.input_schema,
                        skill_shapes.c.output_schema,
                    ).where(skill_shapes.c.skill_id.in_(missing))
                ).all()
            loaded = {
                r.skill_id: SkillSchemas(
                    r.input_schema,
                    r.output_schema,
                    consumer_shape(r.input_schema),
                    producer_shape(r.output_schema),
                )
                for r in rows
            }
            out.update(loaded)
            with self._lock:
                self._cache.update(loaded)
                while len(self._cache) > CACHE_SIZE:
                    self._cache.popitem(last=False)
        return out

"""The stored running sums of ratings: read, fold one rating in, rebuild.

Both totals tables share the columns of :class:`~skillmarket.reputation.models.Totals`; a row
is keyed by skill name (``rating_totals``) or skill version id (``rating_version_totals``).
Callers hold the audit log's append lock, which serialises every rating transaction, so a
read-then-write here cannot race another rating (see ``ReputationService.rate``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from skillmarket.reputation.models import Totals, summarize
from skillmarket.reputation.tables import rating_totals, rating_version_totals, ratings

_DIST = ("n1", "n2", "n3", "n4", "n5")


def _key(table: sa.Table) -> sa.Column:
    return table.c.skill_name if table is rating_totals else table.c.skill_id


def from_row(row: Any) -> Totals:
    """The totals stored in a row of either totals table."""
    return Totals(
        count=row.count,
        total=row.total,
        distribution=tuple(getattr(row, n) for n in _DIST),  # type: ignore[arg-type]
        weight=row.weight,
        weighted_total=row.weighted_total,
        anchor=row.anchor_at,
    )


def values(totals: Totals, half_life: timedelta) -> dict[str, Any]:
    """The column values storing ``totals`` (with the figures search filters and sorts by)."""
    return {
        "count": totals.count,
        "total": totals.total,
        **dict(zip(_DIST, totals.distribution, strict=True)),
        "weight": totals.weight,
        "weighted_total": totals.weighted_total,
        "anchor_at": totals.anchor,
        "half_life_seconds": half_life.total_seconds(),
        "mean": totals.mean,
        "score": totals.score,
    }


def load(conn: Connection, table: sa.Table, key: str) -> Totals:
    """The totals of one key (empty when it has no ratings)."""
    row = conn.execute(sa.select(table).where(_key(table) == key)).first()
    return from_row(row) if row is not None else Totals()


def load_many(conn: Connection, table: sa.Table, keys: list[str]) -> dict[str, Totals]:
    """The totals of those of ``keys`` that have ratings."""
    if not keys:
        return {}
    key = _key(table)
    rows = conn.execute(sa.select(table).where(key.in_(keys))).all()
    return {getattr(row, key.name): from_row(row) for row in rows}


def save(conn: Connection, table: sa.Table, key: str, totals: Totals, half_life: timedelta) -> None:
    """Store the totals of one key (insert or replace)."""
    updated = conn.execute(
        table.update().where(_key(table) == key).values(**values(totals, half_life))
    ).rowcount
    if not updated:
        conn.execute(table.insert().values({_key(table).name: key, **values(totals, half_life)}))


def stale(conn: Connection, half_life: timedelta) -> bool:
    """True when some stored totals were made with another half-life."""
    seconds = half_life.total_seconds()
    for table in (rating_totals, rating_version_totals):
        found = conn.execute(
            sa.select(sa.literal(1)).where(table.c.half_life_seconds != seconds).limit(1)
        ).first()
        if found is not None:
            return True
    return False


def rebuild(conn: Connection, half_life: timedelta) -> int:
    """Recompute every stored totals row from the ratings; returns how many ratings were read."""
    by_name: dict[str, list[tuple[int, Any]]] = defaultdict(list)
    by_version: dict[str, list[tuple[int, Any]]] = defaultdict(list)
    read = 0
    rows = conn.execute(
        sa.select(ratings.c.skill_name, ratings.c.skill_id, ratings.c.score, ratings.c.created_at)
    )
    for row in rows:
        by_name[row.skill_name].append((row.score, row.created_at))
        by_version[row.skill_id].append((row.score, row.created_at))
        read += 1
    for table, groups in ((rating_totals, by_name), (rating_version_totals, by_version)):
        conn.execute(table.delete())
        if groups:
            conn.execute(
                table.insert(),
                [
                    {_key(table).name: key, **values(summarize(points, half_life), half_life)}
                    for key, points in groups.items()
                ],
            )
    return read

"""Full-text search over the latest version of each skill: the one dialect seam of the catalog.

SQLite uses an FTS5 table ranked by BM25; PostgreSQL a tsvector table with a GIN index ranked by
``ts_rank``. Both index name, tags and description with weights in that order, both use the
``simple`` tokenisation (no stemming) and match every query word as a prefix, so a query finds
the same skills on either database. Only the latest non-deprecated version of a name is indexed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from skillmarket.catalog.tables import skill_tags, skills

MAX_QUERY_WORDS = 12
_WORD = re.compile(r"\w+", re.UNICODE)

# DDL used by the migration, per dialect.
SQLITE_DDL = (
    "CREATE VIRTUAL TABLE skill_search USING fts5("
    "name, tags, description, tokenize='unicode61 remove_diacritics 2', prefix='2 3')"
)
POSTGRES_DDL = (
    "CREATE TABLE skill_search (seq BIGINT PRIMARY KEY REFERENCES skills(seq), "
    "document TSVECTOR NOT NULL)",
    "CREATE INDEX ix_skill_search_document ON skill_search USING GIN (document)",
)


@dataclass(frozen=True)
class SearchFilters:
    """What a browse or search narrows by."""

    query: str | None = None
    trust_level: str | None = None
    tags: tuple[str, ...] = ()
    limit: int = 20
    offset: int = 0


def query_words(text: str | None) -> list[str]:
    """The words of a free-text query, lower-cased, as the index tokenises them."""
    return _WORD.findall((text or "").lower())[:MAX_QUERY_WORDS]


def _name_words(name: str) -> str:
    return name.replace("-", " ")


def index_skill(conn: Connection, seq: int, name: str, tags: list[str], description: str) -> None:
    """Add one skill version to the index."""
    params = {"seq": seq, "name": _name_words(name), "tags": " ".join(tags), "d": description}
    if conn.dialect.name == "sqlite":
        conn.execute(
            sa.text(
                "INSERT INTO skill_search (rowid, name, tags, description) "
                "VALUES (:seq, :name, :tags, :d)"
            ),
            params,
        )
    else:
        conn.execute(
            sa.text(
                "INSERT INTO skill_search (seq, document) VALUES (:seq, "
                "setweight(to_tsvector('simple', :name), 'A') || "
                "setweight(to_tsvector('simple', :tags), 'B') || "
                "setweight(to_tsvector('simple', :d), 'C'))"
            ),
            params,
        )


def unindex_skill(conn: Connection, seq: int) -> None:
    """Remove one skill version from the index."""
    column = "rowid" if conn.dialect.name == "sqlite" else "seq"
    conn.execute(sa.text(f"DELETE FROM skill_search WHERE {column} = :seq"), {"seq": seq})


def _full_text(conn: Connection, stmt: sa.Select, words: list[str]) -> sa.Select:
    """``stmt`` joined to the index, narrowed to ``words`` and ordered best first."""
    if conn.dialect.name == "sqlite":
        fts = sa.table("skill_search", sa.column("rowid"))
        return (
            stmt.join_from(skills, fts, fts.c.rowid == skills.c.seq)
            .where(sa.text("skill_search MATCH :q"))
            .order_by(sa.text("bm25(skill_search, 10.0, 5.0, 1.0)"), skills.c.name)
            .params(q=" ".join(f'"{w}"*' for w in words))
        )
    fts = sa.table("skill_search", sa.column("seq"))
    return (
        stmt.join_from(skills, fts, fts.c.seq == skills.c.seq)
        .where(sa.text("skill_search.document @@ to_tsquery('simple', :q)"))
        .order_by(
            sa.text("ts_rank(skill_search.document, to_tsquery('simple', :q)) DESC"),
            skills.c.name,
        )
        .params(q=" & ".join(f"{w}:*" for w in words))
    )


def search(conn: Connection, filters: SearchFilters) -> tuple[list[sa.Row], bool]:
    """The latest versions matching ``filters``, best first, and whether more follow."""
    stmt = sa.select(skills).where(skills.c.is_latest.is_(True))
    if filters.trust_level:
        stmt = stmt.where(skills.c.trust_level_required == filters.trust_level)
    for tag in filters.tags:
        stmt = stmt.where(
            sa.exists().where(skill_tags.c.skill_id == skills.c.id, skill_tags.c.tag == tag)
        )
    words = query_words(filters.query)
    stmt = _full_text(conn, stmt, words) if words else stmt.order_by(skills.c.name)
    rows = conn.execute(stmt.limit(filters.limit + 1).offset(filters.offset)).all()
    return rows[: filters.limit], len(rows) > filters.limit

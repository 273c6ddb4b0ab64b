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
# On SQLite the filters live in the index too (column ``facets``, weight 0), so a filtered
# search is one FTS5 query whose top rows are found before any join: joining every match to
# ``skills`` first doubled the latency at 100,000 skills.
SQLITE_DDL = (
    "CREATE VIRTUAL TABLE skill_search USING fts5("
    "name, tags, description, facets, tokenize='unicode61 remove_diacritics 2', prefix='2 3')"
)
POSTGRES_DDL = (
    "CREATE TABLE skill_search (seq BIGINT PRIMARY KEY REFERENCES skills(seq), "
    "document TSVECTOR NOT NULL)",
    "CREATE INDEX ix_skill_search_document ON skill_search USING GIN (document)",
)

# The tables those statements make (FTS5 adds shadow tables). They are not in the metadata, so
# schema comparison (Alembic autogenerate, the migration test) must leave them out.
FULL_TEXT_TABLES = frozenset(
    {"skill_search"}
    | {f"skill_search_{part}" for part in ("config", "content", "data", "docsize", "idx")}
)


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Alembic's ``include_object`` hook: everything but the full-text tables."""
    return not (type_ == "table" and name in FULL_TEXT_TABLES)


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


def _trust_facet(level: str) -> str:
    return "trust" + level.lower()


def _tag_facet(tag: str) -> str:
    # Hex keeps a tag one exact token: "sales-ops" must not match a search for tag "ops".
    return "tag" + tag.encode().hex()


def _facets(trust_level: str, tags: list[str]) -> str:
    return " ".join([_trust_facet(trust_level), *(_tag_facet(t) for t in tags)])


def index_skill(
    conn: Connection, seq: int, name: str, tags: list[str], description: str, trust_level: str
) -> None:
    """Add one skill version to the index."""
    params = {
        "seq": seq,
        "name": _name_words(name),
        "tags": " ".join(tags),
        "d": description,
        "facets": _facets(trust_level, tags),
    }
    if conn.dialect.name == "sqlite":
        conn.execute(
            sa.text(
                "INSERT INTO skill_search (rowid, name, tags, description, facets) "
                "VALUES (:seq, :name, :tags, :d, :facets)"
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


def _sqlite_search(conn: Connection, filters: SearchFilters, words: list[str]) -> list[sa.Row]:
    """Top rows straight from FTS5 (BM25, filters as facet terms), then join just those."""
    terms = [f'"{w}"*' for w in words]
    if filters.trust_level:
        terms.append(f"facets:{_trust_facet(filters.trust_level)}")
    terms.extend(f"facets:{_tag_facet(t)}" for t in filters.tags)
    top = (
        sa.text(
            "SELECT rowid AS seq, bm25(skill_search, 10.0, 5.0, 1.0, 0.0) AS score "
            "FROM skill_search WHERE skill_search MATCH :q "
            "ORDER BY score, rowid LIMIT :limit OFFSET :offset"
        )
        .bindparams(q=" AND ".join(terms), limit=filters.limit + 1, offset=filters.offset)
        .columns(seq=sa.Integer, score=sa.Float)
        .subquery("top")
    )
    stmt = (
        sa.select(skills)
        .join_from(top, skills, skills.c.seq == top.c.seq)
        .order_by(top.c.score, top.c.seq)
    )
    return list(conn.execute(stmt).all())


def _postgres_full_text(stmt: sa.Select, words: list[str]) -> sa.Select:
    """``stmt`` joined to the tsvector index, narrowed to ``words``, best first."""
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
    words = query_words(filters.query)
    if words and conn.dialect.name == "sqlite":
        rows = _sqlite_search(conn, filters, words)
        return rows[: filters.limit], len(rows) > filters.limit
    stmt = sa.select(skills).where(skills.c.is_latest.is_(True))
    if filters.trust_level:
        stmt = stmt.where(skills.c.trust_level_required == filters.trust_level)
    for tag in filters.tags:
        stmt = stmt.where(
            sa.exists().where(skill_tags.c.skill_id == skills.c.id, skill_tags.c.tag == tag)
        )
    stmt = _postgres_full_text(stmt, words) if words else stmt.order_by(skills.c.name)
    rows = conn.execute(stmt.limit(filters.limit + 1).offset(filters.offset)).all()
    return rows[: filters.limit], len(rows) > filters.limit


# Words too common to say anything about a skill, left out of relevance scoring.
_STOPWORDS = "a an and are as at be by can for from give gives has have i in into is it its me my \
of on or our should that the their then this to we what when which will with you your"
STOPWORDS = frozenset(_STOPWORDS.split())


def relevance_words(text: str) -> list[str]:
    """The distinct, meaningful words of a free text (a request description), at most 12."""
    seen = dict.fromkeys(w for w in _WORD.findall(text.lower()) if w not in STOPWORDS)
    return list(seen)[:MAX_QUERY_WORDS]


def relevance(conn: Connection, words: list[str], limit: int) -> dict[str, float]:
    """Latest skills matching ANY of ``words`` (as prefixes), best first, scored 0–1 by id.

    Unlike :func:`search`, which needs every word, this ranks by how well a skill fits a
    whole sentence, so it can order candidates found by other means (schema matching).
    """
    if conn.dialect.name == "sqlite":
        match = "{name tags description} : (" + " OR ".join(f'"{w}"*' for w in words) + ")"
        stmt = sa.text(
            "SELECT skills.id AS id, -top.score AS score FROM ("
            "SELECT rowid AS seq, bm25(skill_search, 10.0, 5.0, 1.0, 0.0) AS score "
            "FROM skill_search WHERE skill_search MATCH :q ORDER BY score LIMIT :limit"
            ") AS top JOIN skills ON skills.seq = top.seq"
        ).bindparams(q=match, limit=limit)
    else:
        # Rank inside the index first and join only the top rows (skills rows are wide).
        stmt = sa.text(
            "SELECT skills.id AS id, top.score AS score FROM ("
            "SELECT seq, ts_rank(document, query) AS score "
            "FROM skill_search, to_tsquery('simple', :q) AS query WHERE document @@ query "
            "ORDER BY score DESC LIMIT :limit"
            ") AS top JOIN skills ON skills.seq = top.seq"
        ).bindparams(q=" | ".join(f"{w}:*" for w in words), limit=limit)
    scores = {row.id: float(row.score) for row in conn.execute(stmt)}
    best = max(scores.values(), default=0.0)
    if best <= 0:
        return dict.fromkeys(scores, 0.0)
    return {skill_id: max(0.0, score / best) for skill_id, score in scores.items()}

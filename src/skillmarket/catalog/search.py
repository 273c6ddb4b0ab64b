"""Full-text search over the latest version of each skill: the one dialect seam of the catalog.

SQLite uses an FTS5 table ranked by BM25; PostgreSQL a tsvector table with a GIN index ranked by
``ts_rank``. Both index name, tags and description with weights in that order, both use the
``simple`` tokenisation (no stemming) and match every query word as a prefix, so a query finds
the same skills on either database. Only the latest non-deprecated version of a name is indexed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

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


Sort = Literal["relevance", "rating", "newest"]


@dataclass(frozen=True)
class SearchFilters:
    """What a browse or search narrows by, and the order of the results.

    ``sort``: ``relevance`` (best match first; by name without a query), ``rating`` (ranking
    score, best first; an unrated skill ranks as neutral) or ``newest`` (latest version first).
    ``min_rating`` keeps skills whose mean rating (every version together) is at least that.
    """

    query: str | None = None
    trust_level: str | None = None
    tags: tuple[str, ...] = ()
    min_rating: float | None = None
    sort: Sort = "relevance"
    limit: int = 20
    offset: int = 0


@dataclass(frozen=True)
class RatingColumns:
    """Where search reads ratings: tables of the reputation domain, handed to the catalog when
    the services are wired (the catalog never imports that domain).

    ``by_name`` has one row per rated skill name (``skill_name``, ``count``, ``mean``,
    ``score``); ``by_version`` the same per skill version (keyed by ``skill_id``).
    ``unrated_score`` is the ranking score of a skill nobody rated yet.
    """

    by_name: sa.Table
    by_version: sa.Table
    unrated_score: float


def rated(
    stmt: sa.Select,
    ratings: RatingColumns | None,
    source: sa.FromClause = skills,
    *,
    inner: bool = False,
) -> sa.Select:
    """``stmt`` (selecting from ``source``, which includes ``skills``) with each skill's
    rating as ``rating_count``, ``rating_mean`` and ``rating_score`` (``inner``: rated
    skills only)."""
    if ratings is None:
        return stmt.add_columns(
            sa.null().label("rating_count"),
            sa.null().label("rating_mean"),
            sa.null().label("rating_score"),
        ).select_from(source)
    by_name = ratings.by_name
    return stmt.add_columns(
        by_name.c.count.label("rating_count"),
        by_name.c.mean.label("rating_mean"),
        by_name.c.score.label("rating_score"),
    ).select_from(source.join(by_name, by_name.c.skill_name == skills.c.name, isouter=not inner))


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


def _sqlite_terms(filters: SearchFilters, words: list[str]) -> str:
    """The FTS5 query: every word as a prefix, and the filters as facet terms."""
    terms = [f'"{w}"*' for w in words]
    if filters.trust_level:
        terms.append(f"facets:{_trust_facet(filters.trust_level)}")
    terms.extend(f"facets:{_tag_facet(t)}" for t in filters.tags)
    return " AND ".join(terms)


def _sqlite_matches(filters: SearchFilters, words: list[str], top: bool) -> sa.Subquery:
    """FTS5 rows matching, BM25-scored (lower is better); only one page of them when ``top``."""
    sql = (
        "SELECT rowid AS seq, bm25(skill_search, 10.0, 5.0, 1.0, 0.0) AS score "
        "FROM skill_search WHERE skill_search MATCH :q"
    )
    params: dict[str, object] = {"q": _sqlite_terms(filters, words)}
    if top:
        sql += " ORDER BY score, rowid LIMIT :limit OFFSET :offset"
        params.update(limit=filters.limit + 1, offset=filters.offset)
    return sa.text(sql).bindparams(**params).columns(seq=sa.Integer, score=sa.Float).subquery("top")


def _sqlite_top(
    conn: Connection, filters: SearchFilters, words: list[str], ratings: RatingColumns | None
) -> list[sa.Row]:
    """Top rows straight from FTS5 (BM25, filters as facet terms), then join just those."""
    top = _sqlite_matches(filters, words, top=True)
    source = top.join(skills, skills.c.seq == top.c.seq)
    stmt = rated(sa.select(skills), ratings, source).order_by(top.c.score, top.c.seq)
    return list(conn.execute(stmt).all())


def _full_text(
    conn: Connection, stmt: sa.Select, filters: SearchFilters, words: list[str]
) -> tuple[sa.Select, Any]:
    """``stmt`` narrowed to the skills matching ``words``, and the order of best match first."""
    if conn.dialect.name == "sqlite":
        found = _sqlite_matches(filters, words, top=False)
        return stmt.join(found, found.c.seq == skills.c.seq), found.c.score.asc()
    fts = sa.table("skill_search", sa.column("seq"))
    narrowed = (
        stmt.join(fts, fts.c.seq == skills.c.seq)
        .where(sa.text("skill_search.document @@ to_tsquery('simple', :q)"))
        .params(q=" & ".join(f"{w}:*" for w in words))
    )
    return narrowed, sa.text("ts_rank(skill_search.document, to_tsquery('simple', :q)) DESC")


def _matching(conn: Connection, filters: SearchFilters, words: list[str]) -> sa.ColumnElement:
    """ "The skill matches ``words``" as a condition (for orders other than relevance)."""
    if conn.dialect.name == "sqlite":
        found = sa.text("SELECT rowid FROM skill_search WHERE skill_search MATCH :q").bindparams(
            q=_sqlite_terms(filters, words)
        )
    else:
        found = sa.text(
            "SELECT seq FROM skill_search WHERE document @@ to_tsquery('simple', :q)"
        ).bindparams(q=" & ".join(f"{w}:*" for w in words))
    # "seq + 0" keeps SQLite from driving the query from this list (it would read every
    # matching row); the list is built once and only checked, while the query walks an index
    # in the order wanted and stops at the page.
    return (skills.c.seq + 0).in_(found.columns(sa.column("seq", sa.BigInteger)))


def _narrowed(
    conn: Connection,
    stmt: sa.Select,
    filters: SearchFilters,
    words: list[str],
    *,
    by_latest: bool = True,
) -> sa.Select:
    """``stmt`` (which selects from ``skills``) with the filters other than ``min_rating``.

    ``by_latest=False`` words the latest-version condition so no index can serve it: SQLite
    without table statistics takes an indexed ``is_latest = 1`` for a selective one and walks
    all 100,000 latest skills, where the rating totals or the newest rows should lead.
    """
    latest = skills.c.is_latest if by_latest else sa.func.coalesce(skills.c.is_latest, sa.false())
    stmt = stmt.where(latest.is_(True))
    if filters.trust_level:
        stmt = stmt.where(skills.c.trust_level_required == filters.trust_level)
    for tag in filters.tags:
        stmt = stmt.where(
            sa.exists().where(skill_tags.c.skill_id == skills.c.id, skill_tags.c.tag == tag)
        )
    return stmt.where(_matching(conn, filters, words)) if words else stmt


def _by_rating(
    conn: Connection, filters: SearchFilters, words: list[str], ratings: RatingColumns
) -> sa.Subquery:
    """One page of skill seqs in rating order, with their sort keys (``arm``, ``k1``–``k3``).

    The order is (ranking score, number of ratings) descending, then name, an unrated skill
    counting as ``unrated_score`` with no ratings. It is read as three arms, each narrow and
    cut at offset + limit + 1 rows before they are merged: rated skills scoring at least
    neutral (from the totals, best first), unrated skills (by name, along the latest-skills
    index) and rated skills below neutral. Sorting every latest skill's full row instead took
    half a second at 100,000 skills.
    """
    by_name, neutral = ratings.by_name, ratings.unrated_score
    cut = filters.offset + filters.limit + 1
    arms = []
    for arm, above in ((0, True), (2, False)):
        rated_arm = sa.select(
            skills.c.seq,
            sa.literal(arm).label("arm"),
            by_name.c.score.label("k1"),
            by_name.c.count.label("k2"),
            skills.c.name.label("k3"),
        ).select_from(by_name.join(skills, skills.c.name == by_name.c.skill_name))
        rated_arm = rated_arm.where(
            by_name.c.score >= neutral if above else by_name.c.score < neutral
        )
        if filters.min_rating is not None:
            rated_arm = rated_arm.where(by_name.c.mean >= filters.min_rating)
        order = (by_name.c.score.desc(), by_name.c.count.desc(), skills.c.name)
        rated_arm = _narrowed(conn, rated_arm, filters, words, by_latest=False)
        arms.append(rated_arm.order_by(*order).limit(cut))
    if filters.min_rating is None:
        unrated = sa.select(
            skills.c.seq,
            sa.literal(1).label("arm"),
            sa.literal(neutral).label("k1"),
            sa.literal(0).label("k2"),
            skills.c.name.label("k3"),
        ).where(~sa.exists().where(by_name.c.skill_name == skills.c.name))
        arms.append(_narrowed(conn, unrated, filters, words).order_by(skills.c.name).limit(cut))
    merged = sa.union_all(*(sa.select(arm.subquery()) for arm in arms)).subquery("merged")
    return (
        sa.select(merged)
        .order_by(merged.c.arm, merged.c.k1.desc(), merged.c.k2.desc(), merged.c.k3)
        .limit(filters.limit + 1)
        .offset(filters.offset)
        .subquery("page")
    )


def _newest(
    conn: Connection, filters: SearchFilters, words: list[str], ratings: RatingColumns | None
) -> sa.Subquery:
    """One page of skill seqs, most recently published first (narrow; full rows come later)."""
    stmt = sa.select(skills.c.seq.label("k1"), skills.c.seq)
    if filters.min_rating is not None and ratings is not None:
        stmt = stmt.join(ratings.by_name, ratings.by_name.c.skill_name == skills.c.name).where(
            ratings.by_name.c.mean >= filters.min_rating
        )
    stmt = _narrowed(conn, stmt, filters, words, by_latest=False).order_by(skills.c.seq.desc())
    return stmt.limit(filters.limit + 1).offset(filters.offset).subquery("page")


def _page(
    conn: Connection, page: sa.Subquery, order: list[Any], ratings: RatingColumns | None
) -> list[sa.Row]:
    """The full rows (with ratings) of the seqs in ``page``, in ``order``."""
    source = page.join(skills, skills.c.seq == page.c.seq)
    return list(conn.execute(rated(sa.select(skills), ratings, source).order_by(*order)).all())


def search(
    conn: Connection, filters: SearchFilters, ratings: RatingColumns | None = None
) -> tuple[list[sa.Row], bool]:
    """The latest versions matching ``filters`` in their order, and whether more follow.

    Each row carries its skill's rating (see :func:`rated`). The common case — words, ranked
    by relevance, no rating filter — takes one page straight from the index on SQLite. The
    rating and newest orders find one page of narrow rows first, then read just those in full.
    """
    words = query_words(filters.query)
    if filters.min_rating is not None and ratings is None:
        return [], False
    if filters.sort == "rating" and ratings is not None:
        page = _by_rating(conn, filters, words, ratings)
        order = [page.c.arm, page.c.k1.desc(), page.c.k2.desc(), page.c.k3]
        rows = _page(conn, page, order, ratings)
    elif filters.sort == "newest":
        page = _newest(conn, filters, words, ratings)
        rows = _page(conn, page, [page.c.k1.desc()], ratings)
    elif words and filters.min_rating is None and conn.dialect.name == "sqlite":
        rows = _sqlite_top(conn, filters, words, ratings)
    else:
        rows = _by_relevance(conn, filters, words, ratings)
    return rows[: filters.limit], len(rows) > filters.limit


def _by_relevance(
    conn: Connection, filters: SearchFilters, words: list[str], ratings: RatingColumns | None
) -> list[sa.Row]:
    """Best text match first (by name without words), ``min_rating`` applied, full rows."""
    if filters.min_rating is not None and ratings is not None:
        stmt = rated(sa.select(skills), ratings, inner=True)
        stmt = stmt.where(ratings.by_name.c.mean >= filters.min_rating)
        stmt = _narrowed(conn, stmt, filters, [], by_latest=False)
    else:
        stmt = _narrowed(conn, rated(sa.select(skills), ratings), filters, [])
    order: list[Any] = [skills.c.name]
    if words:
        stmt, relevance = _full_text(conn, stmt, filters, words)
        order = [relevance, skills.c.name]
    stmt = stmt.order_by(*order).limit(filters.limit + 1).offset(filters.offset)
    return list(conn.execute(stmt).all())


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

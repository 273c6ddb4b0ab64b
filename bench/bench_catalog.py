"""Catalog benchmark: publish throughput, and search latency at 100,000 skills on SQLite.

Run: python bench/bench_catalog.py [--skills 100000] [--rated 10000] [--database-url URL]
Goal on the 2-core reference machine: search p50 <= 20 ms at 100,000 skills on SQLite.
``--rated`` skills get stored rating totals, so every search joins real ratings; the rating
searches (``sort=rating``, ``min_rating``) are timed on their own.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _common import describe_ms, served  # noqa: E402

from skillmarket.api.app import create_app  # noqa: E402
from skillmarket.catalog import search as search_index  # noqa: E402
from skillmarket.catalog.manifest import SkillManifest  # noqa: E402
from skillmarket.catalog.search import SearchFilters  # noqa: E402
from skillmarket.catalog.tables import skill_names, skill_tags, skills  # noqa: E402
from skillmarket.config import Settings  # noqa: E402
from skillmarket.db import utcnow  # noqa: E402
from skillmarket.ids import new_id  # noqa: E402
from skillmarket.reputation import totals as rating_totals  # noqa: E402
from skillmarket.reputation.models import Totals  # noqa: E402
from skillmarket.reputation.tables import rating_totals as rating_totals_table  # noqa: E402
from skillmarket.services import open_services  # noqa: E402

WORDS = [
    "invoice",
    "summary",
    "translate",
    "weather",
    "extract",
    "classify",
    "route",
    "schedule",
    "email",
    "image",
    "audio",
    "video",
    "report",
    "forecast",
    "ledger",
    "receipt",
    "contract",
    "search",
    "index",
    "parse",
    "render",
    "convert",
    "validate",
    "merge",
    "split",
    "encode",
    "decode",
    "compress",
    "notify",
    "monitor",
    "price",
    "quote",
    "tax",
    "payroll",
    "shipment",
    "inventory",
    "order",
    "ticket",
    "review",
    "sentiment",
    "entity",
    "keyword",
    "calendar",
    "meeting",
    "transcript",
    "caption",
    "label",
    "detect",
    "score",
    "rank",
    "recommend",
]
TAGS = ["finance", "text", "llm", "data", "media", "ops", "legal", "sales", "support", "dev"]


def make_manifest(rng: random.Random, index: int) -> SkillManifest:
    """A plausible, unique manifest."""
    words = rng.sample(WORDS, 3)
    return SkillManifest.model_validate(
        {
            "name": f"{words[0]}-{words[1]}-{index}",
            "version": f"1.{rng.randrange(10)}.0",
            "description": " ".join(rng.choices(WORDS, k=14)).capitalize() + ".",
            "tags": rng.sample(TAGS, 2),
            "execution_mode": "source",
            "trust_level_required": rng.choice(["L0", "L0", "L1", "L2"]),
            "price_cents": rng.choice([0, 0, 1, 5, 25]),
            "input_schema": {"type": "object", "properties": {"text": {"type": "string"}}},
            "output_schema": {"type": "object"},
            "execution_steps": [
                {"type": "script", "runtime": "javascript", "code": f"return input; // {words[2]}"}
            ],
        }
    )


def bulk_seed(services, publisher_id: str, manifests: list[SkillManifest]) -> None:
    """Insert already-validated manifests in large transactions (same rows as publish)."""
    now = utcnow()
    for start in range(0, len(manifests), 5000):
        batch = manifests[start : start + 5000]
        with services.db.write() as conn:
            conn.execute(
                skill_names.insert(),
                [{"name": m.name, "publisher_id": publisher_id, "created_at": now} for m in batch],
            )
            rows = [
                {
                    "id": new_id("skill"),
                    "name": m.name,
                    "version": m.version,
                    "publisher_id": publisher_id,
                    "description": m.description,
                    "execution_mode": m.execution_mode,
                    "credential_mode": m.credential_mode,
                    "trust_level_required": m.trust_level_required,
                    "price_cents": m.price_cents,
                    "manifest": m.to_json_dict(),
                    "fingerprint": m.fingerprint(),
                    "is_latest": True,
                    "created_at": now,
                }
                for m in batch
            ]
            conn.execute(skills.insert(), rows)
            conn.execute(
                skill_tags.insert(),
                [
                    {"skill_id": r["id"], "tag": t}
                    for r, m in zip(rows, batch, strict=True)
                    for t in m.tags
                ],
            )
            seqs = dict(
                conn.execute(
                    skills.select()
                    .with_only_columns(skills.c.id, skills.c.seq)
                    .where(skills.c.id.in_([r["id"] for r in rows]))
                ).all()
            )
            for r, m in zip(rows, batch, strict=True):
                search_index.index_skill(
                    conn,
                    seqs[r["id"]],
                    m.name,
                    list(m.tags),
                    m.description,
                    m.trust_level_required,
                )


def seed_ratings(services, rng: random.Random, names: list[str]) -> None:
    """Stored rating totals for ``names`` (what rating transactions would have left)."""
    half_life = services.settings.rating_half_life
    now = utcnow()
    rows = []
    for name in names:
        totals = Totals()
        for _ in range(rng.randrange(1, 12)):
            score = min(5, max(1, round(rng.gauss(3.8, 1.0))))
            totals = totals.add(score, now, half_life)
        rows.append({"skill_name": name, **rating_totals.values(totals, half_life)})
    with services.db.write() as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(rating_totals_table.insert(), rows[start : start + 5000])


def queries(rng: random.Random, n: int) -> list[SearchFilters]:
    """A mix of what agents ask: one word, two words, a prefix, filters, plain browse."""
    out = []
    for _ in range(n):
        kind = rng.randrange(6)
        if kind == 0:
            out.append(SearchFilters(query=rng.choice(WORDS)))
        elif kind == 1:
            out.append(SearchFilters(query=" ".join(rng.sample(WORDS, 2))))
        elif kind == 2:
            out.append(SearchFilters(query=rng.choice(WORDS)[:4]))
        elif kind == 3:
            out.append(SearchFilters(query=rng.choice(WORDS), tags=(rng.choice(TAGS),)))
        elif kind == 4:
            out.append(SearchFilters(query=" ".join(rng.sample(WORDS, 2)), trust_level="L1"))
        else:
            out.append(SearchFilters(tags=(rng.choice(TAGS),), offset=rng.randrange(0, 200)))
    return out


def rating_queries(rng: random.Random, n: int) -> list[SearchFilters]:
    """Searches ordered or filtered by rating: with words, with a tag, and plain browse."""
    out = []
    for _ in range(n):
        kind = rng.randrange(5)
        if kind == 0:
            out.append(SearchFilters(query=rng.choice(WORDS), sort="rating"))
        elif kind == 1:
            out.append(SearchFilters(query=rng.choice(WORDS), min_rating=4.0))
        elif kind == 2:
            out.append(SearchFilters(tags=(rng.choice(TAGS),), sort="rating"))
        elif kind == 3:
            out.append(SearchFilters(min_rating=4.5, sort="rating"))
        else:
            out.append(SearchFilters(sort="rating", offset=rng.randrange(0, 200)))
    return out


def kind_of(filters: SearchFilters) -> str:
    """A short label of what a search asks, for the slowest-by-kind line."""
    words = "browse" if not filters.query else "1 word" if " " not in filters.query else "2 words"
    if filters.min_rating is not None:
        return f"{words}+min_rating"
    return f"{words}+sort=rating" if filters.sort == "rating" else words


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skills", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--searches", type=int, default=600)
    parser.add_argument("--rated", type=int, default=10_000)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), database_url=args.database_url, seed_examples=False)
        services = open_services(settings)
        db_kind = services.db.engine.dialect.name
        publisher, key = services.identity.create_operator("bench", "studio")
        print(f"catalog benchmark on {db_kind}, {args.skills:,} skills")

        # 1. Publish throughput through the service (validation, fingerprint, audit, index).
        sample = [make_manifest(rng, i) for i in range(1000)]
        started = time.perf_counter()
        for manifest in sample:
            services.catalog.publish(publisher.id, manifest)
        elapsed = time.perf_counter() - started
        print(f"publish (service, one transaction each): {len(sample) / elapsed:,.0f}/s")

        # 2. Seed the rest in bulk.
        started = time.perf_counter()
        rest = [make_manifest(rng, i) for i in range(len(sample), args.skills)]
        bulk_seed(services, publisher.id, rest)
        print(f"bulk seeded {len(rest):,} more in {time.perf_counter() - started:.1f} s")
        names = [m.name for m in sample + rest]
        seed_ratings(services, rng, rng.sample(names, min(args.rated, len(names))))
        print(f"rating totals for {min(args.rated, len(names)):,} skills")

        # 3. Search latency in-process.
        workload = queries(rng, args.searches)
        for warm in workload[:50]:
            services.catalog.search(warm)
        samples, hits = [], 0
        for filters in workload:
            t0 = time.perf_counter()
            page = services.catalog.search(filters)
            samples.append(time.perf_counter() - t0)
            hits += len(page.items)
        print(f"search (service):  {describe_ms(samples)}  avg hits {hits / len(workload):.1f}")
        worst: dict[str, float] = {}
        for filters in workload[:120]:
            t0 = time.perf_counter()
            services.catalog.search(filters)
            kind = kind_of(filters)
            worst[kind] = max(worst.get(kind, 0), time.perf_counter() - t0)
        print(
            "  slowest by kind: "
            + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in sorted(worst.items()))
        )

        # 3b. Searches ordered or filtered by rating.
        by_rating = rating_queries(rng, args.searches // 2)
        for warm in by_rating[:20]:
            services.catalog.search(warm)
        samples, worst = [], {}
        for filters in by_rating:
            t0 = time.perf_counter()
            services.catalog.search(filters)
            elapsed = time.perf_counter() - t0
            samples.append(elapsed)
            worst[kind_of(filters)] = max(worst.get(kind_of(filters), 0), elapsed)
        print(f"search by rating:  {describe_ms(samples)}")
        print(
            "  slowest by kind: "
            + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in sorted(worst.items()))
        )

        # 4. The same searches over real HTTP (uvicorn, keep-alive client, auth included).
        with (
            served(create_app(services)) as url,
            httpx.Client(
                base_url=url, headers={"Authorization": f"Bearer {key.api_key}"}
            ) as client,
        ):
            http_samples = []
            for filters in workload:
                params = {"limit": filters.limit, "offset": filters.offset}
                if filters.query:
                    params["search"] = filters.query
                if filters.tags:
                    params["tags"] = list(filters.tags)
                if filters.trust_level:
                    params["trust_level"] = filters.trust_level
                t0 = time.perf_counter()
                response = client.get("/v1/skills", params=params)
                http_samples.append(time.perf_counter() - t0)
                response.raise_for_status()
            print(f"search (HTTP):     {describe_ms(http_samples)}")
            started = time.perf_counter()
            for i in range(300):
                manifest = make_manifest(rng, args.skills + i).to_json_dict()
                client.post("/v1/skills", json=manifest).raise_for_status()
            elapsed = time.perf_counter() - started
            print(f"publish (HTTP, sequential): {300 / elapsed:,.0f}/s")
        services.close()


if __name__ == "__main__":
    main()

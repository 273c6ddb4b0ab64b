"""Matching benchmark: match and compose requests against 10,000 skills with varied schemas.

Run: python bench/bench_matching.py [--skills 10000] [--requests 200] [--database-url URL]
Goal on the 2-core reference machine: p50 <= 100 ms for matches and for compositions.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import describe_ms  # noqa: E402
from bench_catalog import WORDS, bulk_seed  # noqa: E402

from skillmarket.catalog.manifest import SkillManifest  # noqa: E402
from skillmarket.config import Settings  # noqa: E402
from skillmarket.requests.models import RequestDraft  # noqa: E402
from skillmarket.services import open_services  # noqa: E402

STRING, NUMBER, INTEGER = {"type": "string"}, {"type": "number"}, {"type": "integer"}
# Property names with the type they usually have; a few skills disagree (see _field).
FIELDS = {
    "text": STRING,
    "url": {"type": "string", "format": "uri"},
    "html": STRING,
    "summary": STRING,
    "language": {"type": "string", "minLength": 2, "maxLength": 8},
    "translation": STRING,
    "title": STRING,
    "email": {"type": "string", "format": "email"},
    "amount": NUMBER,
    "total": NUMBER,
    "count": INTEGER,
    "score": NUMBER,
    "label": STRING,
    "currency": {"enum": ["EUR", "USD", "GBP"]},
    "sentiment": {"enum": ["positive", "negative", "neutral"]},
    "tags": {"type": "array", "items": STRING},
    "keywords": {"type": "array", "items": STRING},
    "items": {
        "type": "array",
        "items": {"type": "object", "required": ["price"], "properties": {"price": NUMBER}},
    },
    "customer": {
        "type": "object",
        "required": ["name"],
        "properties": {"name": STRING, "email": {"type": "string", "format": "email"}},
    },
    "entities": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["name", "kind"],
            "properties": {"name": STRING, "kind": STRING},
        },
    },
    "image_url": STRING,
    "caption": STRING,
    "transcript": STRING,
    "audio_url": STRING,
    "duration": INTEGER,
    "city": STRING,
    "temperature": NUMBER,
    "date": {"type": "string", "format": "date"},
    "rating": INTEGER,
    "report": STRING,
}
NAMES = sorted(FIELDS)
SWAPS = [STRING, NUMBER, INTEGER, {"type": "boolean"}]


def _field(rng: random.Random, name: str) -> dict:
    """Usually the field's own type; 8 % of the time another one (an incompatible skill)."""
    return rng.choice(SWAPS) if rng.random() < 0.08 else FIELDS[name]


def _object(rng: random.Random, required: list[str], optional: list[str]) -> dict:
    props = {n: _field(rng, n) for n in (*required, *optional)}
    return {"type": "object", "required": sorted(required), "properties": props}


def make_schemas(rng: random.Random) -> tuple[dict, dict]:
    """An input needing 1–2 fields and an output giving 1–3, with local or remote refs now and
    then."""
    names = rng.sample(NAMES, 7)
    inputs = _object(rng, names[: rng.randint(1, 2)], names[2 : 2 + rng.randint(0, 2)])
    outputs = _object(rng, names[4 : 4 + rng.randint(1, 3)], [])
    roll = rng.random()
    if roll < 0.03:
        outputs = {"$defs": {"out": outputs}, "$ref": "#/$defs/out"}
    elif roll < 0.04:
        outputs = {"$ref": "https://schemas.example.com/out.json"}
    return inputs, outputs


def make_manifest(rng: random.Random, index: int) -> SkillManifest:
    """A skill with varied schemas, named and described from its fields."""
    inputs, outputs = make_schemas(rng)
    words = rng.sample(WORDS, 3)
    fields = [*inputs.get("properties", {}), *outputs.get("properties", {})]
    return SkillManifest.model_validate(
        {
            "name": f"{words[0]}-{words[1]}-{index}",
            "version": "1.0.0",
            "description": f"{words[2].capitalize()} {' '.join(fields)} "
            + " ".join(rng.choices(WORDS, k=8)),
            "tags": rng.sample(["text", "finance", "media", "data", "ops"], 2),
            "execution_mode": "source",
            "price_cents": rng.choice([0, 0, 1, 2, 5, 10, 25, 50]),
            "input_schema": inputs,
            "output_schema": outputs,
            "execution_steps": [
                {"type": "script", "runtime": "javascript", "code": "return input;"}
            ],
        }
    )


def make_request(rng: random.Random) -> RequestDraft:
    """A request giving 1–3 fields and wanting 1–2."""
    names = rng.sample(NAMES, 5)
    given = names[: rng.randint(1, 3)]
    wanted = names[3 : 3 + rng.randint(1, 2)]
    return RequestDraft.model_validate(
        {
            "description": f"Turn {' and '.join(given)} into {' and '.join(wanted)} "
            + " ".join(rng.choices(WORDS, k=3)),
            "input_schema": {
                "type": "object",
                "required": given,
                "properties": {n: FIELDS[n] for n in given},
            },
            "output_schema": {
                "type": "object",
                "required": wanted,
                "properties": {n: FIELDS[n] for n in wanted},
            },
            "max_price_cents": rng.choice([5, 10, 25, 50, 100]),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skills", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    rng = random.Random(11)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), database_url=args.database_url, seed_examples=False)
        services = open_services(settings)
        print(f"matching benchmark on {services.db.engine.dialect.name}, {args.skills:,} skills")
        publisher, _ = services.identity.create_operator("bench", "studio")
        buyer, _ = services.identity.create_operator("buyer", "studio")

        # 1. Publishing through the service also writes the schema signature.
        sample = [make_manifest(rng, i) for i in range(300)]
        started = time.perf_counter()
        for manifest in sample:
            services.catalog.publish(publisher.id, manifest)
        print(f"publish with signature (service): {300 / (time.perf_counter() - started):,.0f}/s")

        # 2. Bulk-load the rest (bypassing the catalog), then the start-up sync signs them.
        started = time.perf_counter()
        bulk_seed(services, publisher.id, [make_manifest(rng, i) for i in range(300, args.skills)])
        print(f"bulk seeded {args.skills - 300:,} in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        signed = services.requests.sync_shapes()
        print(f"start-up sync signed {signed:,} versions in {time.perf_counter() - started:.1f} s")

        # 3. Matches and compositions, each over the same requests (after a short warm-up).
        ids = [services.requests.post(buyer.id, make_request(rng)).id for _ in range(args.requests)]
        for request_id in ids[:10]:
            services.requests.matches(request_id)
            services.requests.compositions(request_id)
        for kind in ("matches", "compositions"):
            call = getattr(services.requests, kind)
            samples, hits, checked, cut = [], 0, 0, 0
            for request_id in ids:
                t0 = time.perf_counter()
                found = call(request_id)
                samples.append(time.perf_counter() - t0)
                hits += len(found.items)
                checked += found.candidates_checked
                cut += found.truncated
            print(
                f"{kind + ':':<14}{describe_ms(samples)}  avg results {hits / len(ids):.1f}  "
                f"avg checked {checked / len(ids):.0f}  truncated {cut}/{len(ids)}"
            )
        services.close()


if __name__ == "__main__":
    main()

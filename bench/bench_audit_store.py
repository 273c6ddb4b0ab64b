"""Audit log on the store: appends per second, full verification, proofs from the database.

Run: python bench/bench_audit_store.py [--events 1000000] [--database-url URL]
Goals on the 2-core reference machine: verify 1,000,000 events in <= 3 s, proofs <= 1 KB,
>= 50,000 proof verifications per second (the pure figures are in bench_audit.py).
"""

from __future__ import annotations

import argparse
import base64
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import describe_ms  # noqa: E402

from skillmarket.audit import log  # noqa: E402
from skillmarket.audit.events import EventType  # noqa: E402
from skillmarket.audit.merkle import event_leaf_hash, verify_inclusion  # noqa: E402
from skillmarket.config import Settings  # noqa: E402
from skillmarket.services import open_services  # noqa: E402


def event_args(i: int) -> dict:
    """A realistic ~150-byte event."""
    return {
        "actor": f"op_{i % 997:020d}",
        "subject": f"sinv_{i:020d}",
        "data": {
            "skill_id": f"skl_{i % 5000:020d}",
            "status": "completed",
            "cost_micros": 4200 + i % 100,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        services = open_services(
            Settings(data_dir=Path(tmp), database_url=args.database_url, seed_examples=False)
        )
        kind = services.db.engine.dialect.name
        print(f"audit store benchmark on {kind}, {args.events:,} events")

        # 1. One event per transaction (what a single audited change costs).
        n, started = 3000, time.perf_counter()
        for i in range(n):
            with services.db.write() as conn:
                log.record(conn, EventType.SKILL_PUBLISH, **event_args(i))
        rate = n / (time.perf_counter() - started)
        print(f"append, one event per transaction: {rate:,.0f}/s")

        # 2. Fill the rest in transactions of 10,000 events.
        started, i = time.perf_counter(), n
        while i < args.events:
            with services.db.write() as conn:
                for _ in range(min(10_000, args.events - i)):
                    log.record(conn, EventType.SKILL_PUBLISH, **event_args(i))
                    i += 1
        elapsed = time.perf_counter() - started
        print(f"append, 10,000 per transaction:     {(i - n) / elapsed:,.0f}/s")
        signed = services.audit.sign_checkpoint()
        assert signed is not None

        # 3. Replay and verify the whole log from the database.
        started = time.perf_counter()
        report = services.audit.verify()
        print(
            f"verify {report.events:,} events from the store: "
            f"{time.perf_counter() - started:.2f} s (goal <= 3 s at 1,000,000)"
        )

        # 4. Inclusion proofs served from the store, and their verification.
        rng = random.Random(5)
        seqs = [rng.randrange(report.events) for _ in range(2000)]
        samples, proofs = [], []
        for seq in seqs:
            t0 = time.perf_counter()
            proofs.append(services.audit.inclusion(seq, None))
            samples.append(time.perf_counter() - t0)
        print(f"inclusion proof from the store: {describe_ms(samples)}")
        size = max(len(p["proof"]) * 32 for p in proofs)
        print(f"largest proof: {size} bytes ({size // 32} hashes)")
        decoded = [
            (
                p["leaf_index"],
                p["checkpoint"]["size"],
                event_leaf_hash(p["event"]),
                [base64.b64decode(h) for h in p["proof"]],
                base64.b64decode(p["checkpoint"]["root_hash"]),
            )
            for p in proofs
        ]
        started = time.perf_counter()
        for _ in range(10):
            for index, tree_size, leaf, path, root in decoded:
                verify_inclusion(index, tree_size, leaf, path, root)
        rate = 10 * len(decoded) / (time.perf_counter() - started)
        print(f"proof verification: {rate:,.0f}/s (goal >= 50,000/s)")
        services.close()


if __name__ == "__main__":
    main()

"""Passport verification as an invoke does it: by id, against the store (SQLite), one core.

Run: python bench/bench_passports_store.py [--passports 2000] [--seconds 3]
Each call reads the passport's token and revocation status from the database, then verifies
signature, issuer, expiry, owner and revocation (PassportService.verify). Goal: >= 5,000/s on
one core with revocation checked. The pure verifier's figures are in bench_passports.py.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

from skillmarket.config import Settings
from skillmarket.services import open_services


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--passports", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    with tempfile.TemporaryDirectory() as tmp:
        services = open_services(Settings(data_dir=Path(tmp), seed_examples=False))
        operator, _key = services.identity.create_operator("bench", "free")
        ids = [
            services.passports.issue(operator.id, {"verified_human": "high"}).passport_id
            for _ in range(args.passports)
        ]
        for passport_id in ids[: args.passports // 10]:  # some are revoked (and must fail)
            services.passports.revoke(passport_id, actor=None)
        live = ids[args.passports // 10 :]
        for passport_id in live:  # first verification fills the signature cache
            services.passports.verify(operator.id, passport_id)
        rng = random.Random(3)
        done, started = 0, time.perf_counter()
        while time.perf_counter() - started < args.seconds:
            services.passports.verify(operator.id, rng.choice(live))
            done += 1
        rate = done / (time.perf_counter() - started)
        print(
            f"verify by id from the store (SQLite, revocation read each time): {rate:,.0f}/s "
            "on one core (goal >= 5,000/s)"
        )
        services.close()


if __name__ == "__main__":
    main()

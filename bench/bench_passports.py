"""Benchmark passports on one core: issuance, and verification with a revocation check.

Run: ``python bench/bench_passports.py [--seconds 2] [--revoked 100000]``. Prints figures only;
nothing here asserts a timing. Goal from docs/reference (integrity.md §9): passport verify
(signature + claims + revocation) ≥ 5,000/s on one core.

Three verification figures:

- ``cold``: every token distinct and the cache off, so each call does the Ed25519 check.
- ``cold, cache on``: distinct tokens with the cache on (the cost of filling it).
- ``warm``: the same tokens again with the cache on (hits skip the signature work; expiry,
  owner and revocation are still checked).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Measure this checkout's code, even when another copy of skillmarket is installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from skillmarket.identity.issuer_keys import IssuerKeyring
from skillmarket.identity.passports import PassportIssuer, PassportVerifier
from skillmarket.ids import new_id

OWNER = "op_benchbenchbenchbench"


def pin_to_one_core() -> str:
    """Pin this process to one CPU where the OS allows it; say which."""
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity)"


def rate(label: str, count: int, run: Callable[[], None], seconds: float) -> float:
    """Run ``run`` (which does ``count`` operations) for about ``seconds``; print the median."""
    rates = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(rates) < 3:
        start = time.perf_counter()
        run()
        rates.append(count / (time.perf_counter() - start))
    median = statistics.median(rates)
    print(f"  {label:<44} {median:>12,.0f} /s   ({len(rates)} rounds of {count:,})")
    return median


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per figure")
    parser.add_argument("--tokens", type=int, default=2000, help="distinct tokens per round")
    parser.add_argument("--revoked", type=int, default=100_000, help="size of the revoked set")
    args = parser.parse_args()

    print(f"passports benchmark: {pin_to_one_core()}, Python {sys.version.split()[0]}")
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        keyring = IssuerKeyring.load_or_create(Path(tmp), issuer="https://bench.test", now=now)
        issuer = PassportIssuer(keyring)
        claims = {"verified_human": "substantial", "verified_identity": "high"}

        def issue_round() -> None:
            for _ in range(args.tokens):
                issuer.issue(OWNER, claims, now=now)

        rate("issue", args.tokens, issue_round, args.seconds)

        tokens = [issuer.issue(OWNER, claims, now=now).token for _ in range(args.tokens)]
        print(f"  token size: {len(tokens[0])} bytes")
        revoked = {new_id("passport") for _ in range(args.revoked)}
        is_revoked = revoked.__contains__
        verify_at = now + timedelta(minutes=1)

        def verify_round(verifier: PassportVerifier) -> Callable[[], None]:
            def run() -> None:
                for token in tokens:
                    verifier.verify(
                        token, expected_owner=OWNER, now=verify_at, is_revoked=is_revoked
                    )

            return run

        label = f"verify, cold (cache off, {args.revoked:,} revoked)"
        rate(
            label,
            len(tokens),
            verify_round(PassportVerifier([keyring], cache_size=0)),
            args.seconds,
        )

        def fill_round() -> None:
            verify_round(PassportVerifier([keyring], cache_size=len(tokens)))()

        rate("verify, cold (cache on, filling it)", len(tokens), fill_round, args.seconds)

        warm = PassportVerifier([keyring], cache_size=len(tokens))
        verify_round(warm)()
        rate("verify, warm (cache hits)", len(tokens), verify_round(warm), args.seconds)


if __name__ == "__main__":
    main()

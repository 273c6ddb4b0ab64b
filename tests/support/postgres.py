"""A throwaway PostgreSQL schema, for the test suite's stores and the benchmarks'."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator

import sqlalchemy as sa


@contextlib.contextmanager
def throwaway_schema(base: str, prefix: str) -> Iterator[str]:
    """A URL of a fresh, empty schema (``prefix`` plus random hex) of the PostgreSQL at
    ``base``, dropped with everything in it afterwards."""
    schema = f"{prefix}_{secrets.token_hex(6)}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()

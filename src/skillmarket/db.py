"""The database: one SQLAlchemy Core engine for SQLite (default) or PostgreSQL, and the metadata.

SQLite is tuned as reference/engines.md measured: WAL, ``synchronous`` from settings, foreign
keys on, and ``BEGIN IMMEDIATE`` for every write transaction (a deferred transaction that
upgrades to a write can fail with SQLITE_BUSY whatever the busy timeout). Writes inside one
process are also serialised by a lock, because SQLite's busy handler sleeps with back-off and
gives long tails under contention. Reads run concurrently in WAL mode.

Use :meth:`Database.write` for a transaction that changes anything (it commits on success and
rolls back on any error, so nothing is half-written) and :meth:`Database.read` for queries.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

_WRITE = "skillmarket_write"
WAL_AUTOCHECKPOINT_PAGES = 10_000  # 40 MB of 4 KiB pages (SQLite's default is 1,000)


def _configure_sqlite(engine: Engine, synchronous: str) -> None:
    """Install the pragmas and the BEGIN IMMEDIATE recipe from SQLAlchemy's pysqlite docs."""

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=5000")
        # A committing writer checkpoints the log itself only past this many pages; the server
        # checkpoints in the background well before that (Database.checkpoint_wal).
        cur.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


# A request thread may briefly hold two connections (a read inside a write transaction), and
# the server runs up to 40 request threads: keep the pool's ceiling above twice that, so no
# set of threads can all wait for a connection another one of them holds.
POOL_SIZE, POOL_OVERFLOW = 20, 70


def json_dumps(value: Any) -> str:
    """The JSON columns' serializer: orjson, several times faster than ``json.dumps``, with
    the standard library for what orjson refuses (integers past 64 bits, non-string keys)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def create_engine(url: str, *, sqlite_synchronous: str = "NORMAL") -> Engine:
    """Build the engine for ``url`` with the settings each dialect needs."""
    common: dict[str, Any] = {
        "pool_size": POOL_SIZE,
        "max_overflow": POOL_OVERFLOW,
        "json_serializer": json_dumps,
    }
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False}, **common)
        _configure_sqlite(engine, sqlite_synchronous)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, **common)


class Database:
    """The engine plus the two ways in: :meth:`read` and :meth:`write`."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self._write_lock: contextlib.AbstractContextManager[Any] = (
            threading.Lock() if self.is_sqlite else contextlib.nullcontext()
        )

    @classmethod
    def from_url(cls, url: str, *, sqlite_synchronous: str = "NORMAL") -> Database:
        """Open the database at ``url``."""
        return cls(create_engine(url, sqlite_synchronous=sqlite_synchronous))

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction: commits when the block ends, rolls back on any error."""
        with self._write_lock, self.engine.connect() as conn:
            conn = conn.execution_options(**{_WRITE: True})
            with conn.begin():
                yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (a consistent snapshot on both databases)."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def checkpoint_wal(self) -> tuple[int, int] | None:
        """SQLite: copy what the write-ahead log holds into the database file without waiting
        for readers or writers (a passive checkpoint); returns the log's frames and how many
        of them are checkpointed now. ``None`` on PostgreSQL, which does its own.

        SQLite releases the GIL while it copies, so a background thread doing this takes the
        work off the writers, whose commits would otherwise stop for it now and then.
        """
        if not self.is_sqlite:
            return None
        with self.engine.connect() as conn:
            _busy, frames, done = conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
            conn.commit()
        return frames, done

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


class UtcDateTime(sa.types.TypeDecorator[Any]):
    """A timezone-aware UTC timestamp on both databases (SQLite has no timezone type)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        """Store UTC; reject naive datetimes, which are always a bug here."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UtcDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Any:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)

"""SQLite's write-ahead log is checkpointed by the server in the background."""

from __future__ import annotations

from skillmarket.audit import log
from skillmarket.audit.events import EventType


def test_a_passive_checkpoint_copies_the_whole_log(database):
    for i in range(20):
        with database.write() as conn:
            log.record(conn, EventType.SKILL_PUBLISH, actor=None, subject=f"wal-{i}")
    result = database.checkpoint_wal()
    if not database.is_sqlite:
        assert result is None  # PostgreSQL checkpoints by itself
        return
    frames, done = result
    assert frames > 0 and done == frames
    with database.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 10_000

"""The one Alembic history builds exactly the schema the code declares, on both databases."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import skillmarket.tables  # noqa: F401
from skillmarket import migrations
from skillmarket.catalog.search import include_object
from skillmarket.db import create_engine, metadata


def schema_diff(engine: sa.Engine) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include_object})
        return compare_metadata(context, metadata)


def test_upgrade_head_matches_metadata(db_url):
    engine = create_engine(db_url)
    migrations.upgrade(engine)
    assert schema_diff(engine) == []
    engine.dispose()


def test_downgrade_to_base_and_back(db_url):
    engine = create_engine(db_url)
    migrations.upgrade(engine)
    migrations.downgrade(engine, "base")
    assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
    migrations.upgrade(engine)
    assert schema_diff(engine) == []
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT size FROM audit_head")).scalar_one() == 0
    engine.dispose()

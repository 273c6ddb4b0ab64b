"""What the catalog tells other domains, inside its own transaction, when skills change.

Another domain that keeps data derived from skill versions (the requests domain keeps a compact
schema signature per version for matching) registers a :class:`CatalogListener` at wiring
time. The catalog calls it in the same transaction as the change, so the derived rows can never
disagree with the catalog, and the catalog never imports the listener's domain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.engine import Connection


@dataclass(frozen=True)
class PublishedVersion:
    """One skill version as derived data needs it (versions are immutable)."""

    skill_id: str
    price_cents: int
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    is_latest: bool


class CatalogListener(Protocol):
    """Receives catalog changes inside the catalog's write transaction."""

    def version_published(self, conn: Connection, version: PublishedVersion) -> None:
        """A new skill version was inserted (called once per version)."""

    def latest_changed(self, conn: Connection, skill_id: str, is_latest: bool) -> None:
        """A version became, or stopped being, the latest live version of its name."""

"""The one place that wires settings, the database and every domain service together."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from importlib import resources

from skillmarket import migrations
from skillmarket.audit.services import AuditService
from skillmarket.catalog.manifest import SkillManifest
from skillmarket.catalog.sealed import SealedLogic
from skillmarket.catalog.services import CatalogService
from skillmarket.config import Settings
from skillmarket.credentials.services import CredentialService
from skillmarket.crypto.envelope import LocalKeyProvider
from skillmarket.crypto.sealing import SealingKey
from skillmarket.db import Database
from skillmarket.identity.passport_service import PassportService
from skillmarket.identity.services import IdentityService
from skillmarket.invocations.services import InvocationService
from skillmarket.ledger.providers import provider_named
from skillmarket.ledger.services import LedgerService
from skillmarket.reputation.services import ReputationService
from skillmarket.requests.services import RequestsService

logger = logging.getLogger(__name__)

EXAMPLES_PUBLISHER = "skillmarket-examples"


@dataclass
class Services:
    """Everything an interface (API, CLI, MCP) calls into."""

    settings: Settings
    db: Database
    identity: IdentityService
    catalog: CatalogService
    passports: PassportService
    audit: AuditService
    key_provider: LocalKeyProvider
    sealing_key: SealingKey
    ledger: LedgerService
    invocations: InvocationService
    reputation: ReputationService
    requests: RequestsService
    credentials: CredentialService

    def close(self) -> None:
        """Release the database connections."""
        self.db.dispose()


def open_services(settings: Settings, *, migrate: bool = True) -> Services:
    """Open the store named by ``settings`` (creating the data dir) and build the services."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database.from_url(
        settings.resolved_database_url, sqlite_synchronous=settings.sqlite_synchronous
    )
    if migrate:
        migrations.upgrade(db.engine)
    key_provider = LocalKeyProvider(settings.data_dir)
    sealing_key = SealingKey(settings.data_dir)
    identity = IdentityService(db)
    catalog = CatalogService(db, SealedLogic(key_provider, sealing_key))
    passports = PassportService(db, settings.data_dir)
    ledger = LedgerService(
        db,
        identity=identity,
        provider=provider_named(settings.payment_provider),
        allowances=settings.monthly_allowances(),  # type: ignore[arg-type]
    )
    invocations = InvocationService(db, catalog, passports, ledger, key_provider, sealing_key)
    reputation = ReputationService(db, catalog, invocations, settings.rating_half_life)
    # Views and search show each skill's rating, read from the reputation domain's totals.
    catalog.set_ratings(reputation.columns())
    requests = RequestsService(db, catalog, ratings=reputation)
    # The requests domain keeps a schema signature per skill version, written in the
    # catalog's own transactions; sync() fills in what was loaded without the catalog.
    catalog.add_listener(requests.index)
    if migrate:
        requests.sync_shapes()
        reputation.sync_totals()
    return Services(
        settings=settings,
        db=db,
        identity=identity,
        catalog=catalog,
        passports=passports,
        audit=AuditService(db, settings.data_dir, settings.log_origin),
        key_provider=key_provider,
        sealing_key=sealing_key,
        ledger=ledger,
        invocations=invocations,
        reputation=reputation,
        requests=requests,
        credentials=CredentialService(db, key_provider),
    )


def example_manifests() -> list[SkillManifest]:
    """The example skills shipped with the package."""
    folder = resources.files("skillmarket") / "examples"
    return [
        SkillManifest.model_validate(json.loads(entry.read_text()))
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".json")
    ]


def seed_examples(services: Services) -> int:
    """Publish the example skills when the catalog is empty; return how many were published."""
    if services.catalog.count() > 0:
        return 0
    operator = services.identity.operator_by_name(EXAMPLES_PUBLISHER)
    if operator is None:
        operator, _key = services.identity.create_operator(EXAMPLES_PUBLISHER, "studio")
    manifests = example_manifests()
    for manifest in manifests:
        services.catalog.publish(operator.id, manifest)
    logger.info("published %d example skills as %s", len(manifests), EXAMPLES_PUBLISHER)
    return len(manifests)

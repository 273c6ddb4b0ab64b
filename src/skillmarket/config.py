"""Settings: every knob is a ``SKILLMARKET_*`` environment variable with a default that just works.

Environment beats a ``.env`` file in the working directory, which beats the default. Secrets
are wrapped in :class:`pydantic.SecretStr` so they never show in a repr or a log line.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from skillmarket.runtime.sandbox import SandboxConfig


class Settings(BaseSettings):
    """Server-side settings (the CLI's client settings live in :class:`ClientSettings`)."""

    model_config = SettingsConfigDict(
        env_prefix="SKILLMARKET_", env_file=".env", extra="ignore", frozen=True
    )

    data_dir: Path = Field(
        Path("./.skillmarket"),
        description="Directory for the embedded database, keys and other local state.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL. Default: SQLite file skillmarket.db in the data dir. "
        "For scale-out use postgresql+psycopg://user@host/db.",
    )
    host: str = Field("127.0.0.1", description="Address `skillmarket serve` listens on.")
    port: int = Field(8080, ge=1, le=65535, description="Port `skillmarket serve` listens on.")
    max_body_bytes: int = Field(
        1_048_576, ge=1024, description="Largest request body accepted, in bytes (413 beyond)."
    )
    seed_examples: bool = Field(
        True, description="Publish the example skills on first start when the catalog is empty."
    )
    log_origin: str = Field(
        "skillmarket.local/audit",
        pattern=r"^[^\s+]+$",
        description="The audit log's name in its signed checkpoints (C2SP origin); set it to "
        "something unique such as your domain plus /audit.",
    )
    checkpoint_interval_seconds: float = Field(
        60.0, gt=0, description="How often `serve` signs a checkpoint when the log has grown."
    )
    sync_wait_seconds: float = Field(
        10.0,
        ge=0,
        description="How long an invoke waits for a sealed or source invocation "
        "before answering 202 with the poll URL (the work goes on).",
    )
    invocation_concurrency: int = Field(
        32, ge=1, description="Invocations run at once in this process (the queue's width)."
    )
    invocation_threads: int | None = Field(
        None,
        ge=1,
        le=64,
        description="Threads for the invocation path's blocking calls outside the group "
        "commit (the passport check before each later step). Default: 1 on SQLite, 8 on "
        "PostgreSQL.",
    )
    access_log: bool = Field(
        True,
        description="serve logs one line per request; off saves ~0.3 ms of CPU per request.",
    )
    sweep_interval_seconds: float = Field(
        5.0, gt=0, description="How often expired open-mode invocations are swept."
    )
    sqlite_wal_checkpoint_seconds: float = Field(
        1.0,
        gt=0,
        description="How often serve copies SQLite's write-ahead log into the database file "
        "in the background, so that no commit stops to do it.",
    )
    sqlite_synchronous: str = Field(
        "NORMAL",
        pattern="^(NORMAL|FULL)$",
        description="SQLite synchronous pragma. NORMAL survives app crashes; FULL also power loss.",
    )

    sandbox_js_workers: int | None = Field(
        None, ge=0, description="JavaScript sandbox workers; unset: one per CPU core; 0: none."
    )
    sandbox_python_workers: int | None = Field(
        None, ge=0, description="Python sandbox zygotes; unset: one per CPU core; 0: none."
    )
    sandbox_recycle_after: int = Field(
        1000, ge=1, description="Runs after which a sandbox worker is replaced by a fresh one."
    )
    sandbox_bwrap: Literal["off", "auto", "required"] = Field(
        "auto",
        description="The optional bubblewrap namespace layer: `auto` uses it where it works, "
        "`required` refuses to run scripts without it, `off` never uses it.",
    )
    sandbox_allow_unprivileged: bool = Field(
        False,
        description="Run scripts even when the server is not root and cannot drop workers to "
        "uid nobody (the other layers still apply). Off: such a server refuses script steps.",
    )
    rating_half_life_days: float = Field(
        30.0,
        gt=0,
        le=3650,
        description="Half-life of a rating in the recency-weighted figures: a rating this many "
        "days older than another weighs half as much. Changing it rebuilds the stored totals "
        "at the next start.",
    )

    llm_base_url: str = Field(
        "https://openrouter.ai/api/v1",
        description="Base URL of the OpenAI-compatible chat-completions API that runs LLM steps.",
    )
    llm_api_key: SecretStr | None = Field(
        None, description="Bearer key for the LLM API (none: requests carry no Authorization)."
    )
    llm_timeout_seconds: float = Field(
        60.0, gt=0, le=600, description="Most an LLM step may take, retry and back-off included."
    )
    llm_max_retries: int = Field(
        1, ge=0, le=1, description="Retries of an LLM call after a 429 or 5xx (0 or 1)."
    )
    llm_retry_backoff_seconds: float = Field(
        0.5, ge=0, le=10, description="Pause before retrying an LLM call."
    )
    llm_price_table_path: Path | None = Field(
        None, description="JSON file of model prices laid over the built-in LLM price table."
    )

    monthly_allowance_free: int = Field(
        100, ge=0, description="Free-skill invocations a free-tier buyer gets each month."
    )
    monthly_allowance_developer: int = Field(
        1_000, ge=0, description="Free-skill invocations a developer-tier buyer gets each month."
    )
    monthly_allowance_studio: int = Field(
        10_000, ge=0, description="Free-skill invocations a studio-tier buyer gets each month."
    )
    monthly_allowance_enterprise: int = Field(
        100_000,
        ge=0,
        description="Free-skill invocations an enterprise-tier buyer gets each month.",
    )
    payment_provider: Literal["manual"] = Field(
        "manual",
        description="Where deposits are confirmed and payouts sent. `manual`: an admin moves "
        "the money by hand and records it.",
    )

    def invocation_threads_for(self, sqlite: bool) -> int:
        """How many threads make the invocation path's database calls on this store."""
        if self.invocation_threads is not None:
            return self.invocation_threads
        return 1 if sqlite else 8

    def sandbox_config(self) -> SandboxConfig:
        """The script sandbox's configuration from these settings."""
        from skillmarket.runtime.sandbox import SandboxConfig

        return SandboxConfig(
            js_workers=self.sandbox_js_workers,
            python_workers=self.sandbox_python_workers,
            recycle_after=self.sandbox_recycle_after,
            bwrap=self.sandbox_bwrap,
            allow_unprivileged=self.sandbox_allow_unprivileged,
        )

    def monthly_allowances(self) -> dict[str, int]:
        """The free-skill allowance of each buyer tier."""
        return {
            "free": self.monthly_allowance_free,
            "developer": self.monthly_allowance_developer,
            "studio": self.monthly_allowance_studio,
            "enterprise": self.monthly_allowance_enterprise,
        }

    @property
    def rating_half_life(self) -> timedelta:
        """The rating half-life as a duration."""
        return timedelta(days=self.rating_half_life_days)

    @cached_property
    def resolved_database_url(self) -> str:
        """The database URL in force: the configured one, or SQLite in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'skillmarket.db').resolve()}"


class ClientSettings(BaseSettings):
    """What the CLI's client commands need to reach a marketplace."""

    model_config = SettingsConfigDict(env_prefix="SKILLMARKET_", env_file=".env", extra="ignore")

    url: str = Field("http://127.0.0.1:8080", description="Base URL of the marketplace.")
    api_key: str | None = Field(None, description="Bearer API key of the calling operator.")

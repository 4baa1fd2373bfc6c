"""Settings read from the environment (and an optional `.env` file)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values that mean "nobody chose a secret": refused in production.
DEV_SECRET_KEY = "dev-insecure-secret-key-do-not-use-in-production"
PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "secret", DEV_SECRET_KEY})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = "sqlite:///var/market.db"
    """A plain SQLAlchemy URL; the async driver is picked in `core.db`."""

    secret_key: str = DEV_SECRET_KEY
    """Signs login tokens and keys the resident-phone hashes."""

    outbox_keys: str = ""
    """Secrets that seal the outbox's pending messages (`core.sealing`), comma-separated: the first
    seals, every one opens, so a key is rotated by putting the new one first. Empty: SECRET_KEY."""

    environment: Literal["development", "test", "production"] = "development"
    timezone: str = "Asia/Shanghai"
    public_base_url: str = "http://127.0.0.1:8000"

    graphql_introspection: bool | None = None
    """Introspection and GraphiQL; default on except in production."""

    market_test_clock: bool = False
    """Clock = real time + an offset kept in the database, moved by `advanceClock`."""

    notify_backend: Literal["console"] = "console"
    """How `market notify send` delivers the outbox; `console` writes the messages to the log."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as Asia/Shanghai"
            ) from error
        return value

    @model_validator(mode="after")
    def _production_guards(self) -> Settings:
        if self.environment == "production":
            if self.secret_key.strip().lower() in PLACEHOLDER_SECRETS or len(self.secret_key) < 32:
                raise ValueError(
                    "SECRET_KEY must be set to a random value of at least 32 characters "
                    "when ENVIRONMENT=production"
                )
            for key in self.outbox_keys.split(","):
                if key.strip() and (key.strip().lower() in PLACEHOLDER_SECRETS or len(key.strip()) < 32):
                    raise ValueError(
                        "every OUTBOX_KEYS entry must be a random value of at least 32 characters "
                        "when ENVIRONMENT=production"
                    )
            if self.market_test_clock:
                raise ValueError("MARKET_TEST_CLOCK cannot be enabled when ENVIRONMENT=production")
        return self

    @property
    def outbox_secrets(self) -> list[str]:
        """The secrets of OUTBOX_KEYS in order, or SECRET_KEY alone."""
        return [key.strip() for key in self.outbox_keys.split(",") if key.strip()] or [self.secret_key]

    @property
    def introspection_enabled(self) -> bool:
        if self.graphql_introspection is None:
            return self.environment != "production"
        return self.graphql_introspection

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@lru_cache
def get_settings() -> Settings:
    return Settings()

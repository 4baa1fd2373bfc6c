"""Settings read from the environment (and an optional `.env` file)."""

from __future__ import annotations

import ipaddress
import re
import socket
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values that mean "nobody chose a secret": refused in production.
DEV_SECRET_KEY = "dev-insecure-secret-key-do-not-use-in-production"
PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "secret", DEV_SECRET_KEY})

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
# Addresses that mean "every interface" to a server, and nothing to a browser.
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "[::]", "*"})  # noqa: S104 - recognised, not bound


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
    public_base_url: str = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
    """Base of the links the platform sends. Unset (or blank), `market serve` sets it from its own
    host and port (see `base_url_for`); other commands use http://127.0.0.1:8000."""

    graphql_introspection: bool | None = None
    """Introspection and GraphiQL; default on except in production."""

    market_test_clock: bool = False
    """Clock = real time + an offset kept in the database, moved by `advanceClock`."""

    response_cache: bool = True
    """Keep answers to repeated reads until the data changes (core.cache); off: every query is executed."""

    notify_backend: Literal["console"] = "console"
    """How `market notify send` delivers the outbox; `console` writes the messages to the log."""

    # OCDS export (disclosure/ocds).
    ocds_prefix: str = "ocds-psm000"
    """The ocid prefix: `ocds-` and the six characters the Open Contracting Partnership registers for a
    publisher; each tender's ocid is `{OCDS_PREFIX}-{tender id}`. The default is a placeholder."""
    ocds_publisher_name: str = "政府购买服务信息公开平台"
    """The publisher named in every OCDS package."""
    ocds_license: str = ""
    """URL of the license of the published data (https://creativecommons.org/licenses/by/4.0/...); blank:
    no license stated in the packages."""

    # Payouts (scoring/payouts): where approved payments are sent.
    payout_backend: Literal["ledger", "stripe"] = "ledger"
    """`ledger`: booked in the platform's own double-entry ledger; `stripe`: Stripe Connect transfers."""
    stripe_api_key: str = ""
    stripe_api_base: str = "https://api.stripe.com"
    stripe_webhook_secret: str = ""
    """Signs the events Stripe posts to /webhooks/stripe (`whsec_…`)."""
    stripe_timeout_seconds: float = 10.0
    """How long one call to Stripe may take; past it the payment stays SENT and is retried with its key."""

    # Red flags on awards (disclosure/red_flags; README "Red flags"). Cardinal's defaults where it has one.
    red_flag_r003_min_days: int = Field(15, ge=1)
    """R003: a submission period (publication to bid deadline) shorter than this many whole days."""
    red_flag_r024_threshold: float | None = None
    """R024: the lower fence; unset, Q1 - 1.5 IQR of the awarded tenders' second-lowest-bid ratios."""
    red_flag_r058_threshold: float | None = None
    """R058: the upper fence; unset, Q3 + 1.5 IQR of the same ratios."""
    red_flag_r035_min_disqualified: int = Field(1, ge=1)
    """R035: at least this many other bidders were disqualified."""
    red_flag_r038_threshold: float | None = None
    """R038: the upper fence of disqualified / submitted bids; unset, Q3 + 1.5 IQR per kind of organisation
    (departments, bidders)."""
    red_flag_r038_min_bids: int = Field(2, ge=1)
    """R038: a bidder is compared once it has submitted this many bids in awarded tenders."""
    red_flag_r038_min_tenders: int = Field(2, ge=1)
    """R038: a department is compared once it has awarded this many tenders with bids."""
    red_flag_min_sample: int = Field(5, ge=1)
    """Quartile fences are computed from at least this many values (fewer: no outlier flag)."""
    red_flag_ceiling_share: float = Field(0.95, gt=0, le=1)
    """NEAR_CEILING: the winning unit price is at least this share of the maximum unit price."""
    red_flag_rotation_min_tenders: int = Field(3, ge=2)
    """WIN_ROTATION: two bidders bid together on at least this many of a department's awarded tenders."""

    @model_validator(mode="before")
    @classmethod
    def _blank_means_unset(cls, data: Any) -> Any:
        # `PUBLIC_BASE_URL=` in a .env file leaves the default, and `public_base_url_set` False.
        if isinstance(data, dict) and str(data.get("public_base_url", "unset")).strip() == "":
            data = {key: value for key, value in data.items() if key != "public_base_url"}
        return data

    @field_validator("public_base_url")
    @classmethod
    def _absolute_http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(
                f"PUBLIC_BASE_URL {value!r} is not an absolute http(s) address such as https://market.example.gov.cn"
            )
        return value

    @field_validator("ocds_prefix")
    @classmethod
    def _ocid_prefix(cls, value: str) -> str:
        if not re.fullmatch(r"ocds-[a-z0-9]{6}", value):
            raise ValueError(f"OCDS_PREFIX {value!r} is not `ocds-` and six lowercase letters or digits")
        return value

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
            if self.payout_backend == "stripe" and not (
                self.stripe_api_key.strip() and self.stripe_webhook_secret.strip()
            ):
                raise ValueError(
                    "PAYOUT_BACKEND=stripe needs STRIPE_API_KEY and STRIPE_WEBHOOK_SECRET "
                    "when ENVIRONMENT=production"
                )
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

    @property
    def public_base_url_set(self) -> bool:
        """Whether PUBLIC_BASE_URL was given (environment or .env), rather than the default."""
        return "public_base_url" in self.model_fields_set


def _outward_address() -> str | None:
    """This machine's address on its default route, found without sending anything (a UDP `connect`
    only asks the kernel for a route); None when there is no route."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1 (RFC 5737): any routed address will do
            address = probe.getsockname()[0]
    except OSError:
        return None
    return None if address in WILDCARD_HOSTS else address


def base_url_for(host: str, port: int) -> str:
    """The base URL at which a server bound to HOST:PORT is reached, for the links it sends.

    A wildcard host (0.0.0.0, ::) is no address a phone can open: it becomes this machine's address
    on its default route, or 127.0.0.1 without one. IPv6 addresses get their brackets.
    """
    host = host.strip()
    if host in WILDCARD_HOSTS:
        host = _outward_address() or DEFAULT_HOST
    host = host.strip("[]")
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass  # a host name
    return f"http://{host}:{port}"


@lru_cache
def get_settings() -> Settings:
    return Settings()

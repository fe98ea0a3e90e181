"""Service configuration, read once from the environment (and an optional `.env` file)."""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from functools import lru_cache
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET_KEY = "dev-insecure-secret-key-change-me"  # noqa: S105 - refused in production
MIN_PRODUCTION_KEY_LENGTH = 32
# A browser origin for CORS_ORIGINS: scheme, host (name, IPv4 or bracketed IPv6), optional port.
_ORIGIN = re.compile(r"https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?/?")


def _split_list(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class ConfigurationError(RuntimeError):
    """The settings cannot be used as they are; the message says what to change."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    grants_env: Environment = Field(default=Environment.development, alias="GRANTS_ENV")
    database_url: str = Field(default="sqlite:///./var/grants.db", alias="DATABASE_URL")
    storage_url: str = Field(default="file://./var/documents", alias="STORAGE_URL")
    secret_key: str = Field(default=DEFAULT_SECRET_KEY, alias="SECRET_KEY")
    access_token_minutes: int = Field(default=60, ge=1, le=24 * 60, alias="ACCESS_TOKEN_MINUTES")
    max_upload_mb: int = Field(default=100, ge=1, le=5 * 1024, alias="MAX_UPLOAD_MB")
    max_json_body_kb: int = Field(default=1024, ge=1, alias="MAX_JSON_BODY_KB")
    login_max_failures: int = Field(default=5, ge=1, alias="LOGIN_MAX_FAILURES")
    login_window_minutes: int = Field(default=15, ge=1, alias="LOGIN_WINDOW_MINUTES")
    password_hash_memory_kib: int = Field(default=65536, ge=8, alias="PASSWORD_HASH_MEMORY_KIB")
    password_hash_time_cost: int = Field(default=3, ge=1, alias="PASSWORD_HASH_TIME_COST")
    db_pool_size: int = Field(default=10, ge=1, alias="DB_POOL_SIZE")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", alias="LOG_LEVEL"
    )
    # The web interface's signed session cookie lives this long (docs/web.md).
    web_session_minutes: int = Field(
        default=8 * 60, ge=5, le=7 * 24 * 60, alias="WEB_SESSION_MINUTES"
    )
    # 360Giving export (docs/360giving.md). Grant identifiers are `<prefix>-<award reference>`;
    # a real publisher registers its own `360G-…` prefix with 360Giving.
    giving360_id_prefix: str = Field(
        default="360G-grants", pattern=r"^360G-[A-Za-z0-9._-]+$", alias="GIVING360_ID_PREFIX"
    )
    # The funder's organisation identifier: US-GOV-11 is the U.S. Department of State's (IATI).
    funding_org_id: str = Field(default="US-GOV-11", min_length=1, alias="FUNDING_ORG_ID")
    funding_org_name: str = Field(
        default="U.S. Department of State, Office to Monitor and Combat Trafficking in Persons",
        min_length=1,
        alias="FUNDING_ORG_NAME",
    )

    # IATI activity export (docs/iati.md). US-GOV-11 is the U.S. Department of State's IATI
    # organisation identifier; activity identifiers are `<prefix>-<award reference>`, the
    # prefix defaulting to the reporting organisation's identifier.
    iati_reporting_org_ref: str = Field(
        default="US-GOV-11", pattern=r"^[A-Za-z0-9]+-[^\s/&|?]+$", alias="IATI_REPORTING_ORG_REF"
    )
    iati_reporting_org_name: str = Field(
        default="U.S. Department of State, Office to Monitor and Combat Trafficking in Persons",
        min_length=1,
        alias="IATI_REPORTING_ORG_NAME",
    )
    iati_reporting_org_type: str = Field(
        default="10", pattern=r"^\d{2}$", alias="IATI_REPORTING_ORG_TYPE"
    )
    iati_activity_prefix: str | None = Field(
        default=None, pattern=r"^[^\s/&|?]+$", alias="IATI_ACTIVITY_PREFIX"
    )
    iati_recipient_country: str = Field(
        default="PE", pattern=r"^[A-Z]{2}$", alias="IATI_RECIPIENT_COUNTRY"
    )

    # Abuse limits, HTTP hardening and observability (docs/configuration.md).
    registration_max_per_hour: int = Field(default=10, ge=1, alias="REGISTRATION_MAX_PER_HOUR")
    # Comma-separated IP addresses or networks whose X-Forwarded-For / X-Forwarded-Proto are
    # believed, or "*"; empty: the socket peer is the client.
    trusted_proxies: str = Field(default="", alias="TRUSTED_PROXIES")
    # Comma-separated origins (scheme://host[:port]) allowed to call the API from a browser.
    cors_origins: str = Field(default="", alias="CORS_ORIGINS")
    log_format: Literal["json", "text"] | None = Field(default=None, alias="LOG_FORMAT")
    metrics_token: str | None = Field(default=None, min_length=16, alias="METRICS_TOKEN")

    @field_validator("metrics_token", "log_format", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_proxies(cls, value: str) -> str:
        for item in _split_list(value):
            if item != "*":
                try:
                    ipaddress.ip_network(item, strict=False)
                except ValueError:
                    raise ValueError(f"{item!r} is not an IP address or network") from None
        return value

    @field_validator("cors_origins")
    @classmethod
    def _valid_origins(cls, value: str) -> str:
        for item in _split_list(value):
            if not _ORIGIN.fullmatch(item):
                raise ValueError(
                    f"{item!r} is not an origin: give scheme://host[:port], no path, no '*'"
                )
        return value

    @property
    def trusted_proxy_list(self) -> tuple[str, ...]:
        return _split_list(self.trusted_proxies)

    @property
    def cors_origin_list(self) -> tuple[str, ...]:
        return tuple(item.rstrip("/") for item in _split_list(self.cors_origins))

    @property
    def effective_log_format(self) -> Literal["json", "text"]:
        if self.log_format is not None:
            return self.log_format
        return "json" if self.is_production else "text"

    @property
    def is_production(self) -> bool:
        return self.grants_env is Environment.production

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @model_validator(mode="after")
    def _refuse_weak_production_key(self) -> Self:
        if self.is_production and (
            self.secret_key == DEFAULT_SECRET_KEY
            or len(self.secret_key) < MIN_PRODUCTION_KEY_LENGTH
        ):
            raise ConfigurationError(
                "GRANTS_ENV=production needs SECRET_KEY set to a random value of at least "
                f"{MIN_PRODUCTION_KEY_LENGTH} characters (for example the output of "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`)."
            )
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()

"""Service configuration, read once from the environment (and an optional `.env` file)."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from typing import Literal, Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET_KEY = "dev-insecure-secret-key-change-me"  # noqa: S105 - refused in production
MIN_PRODUCTION_KEY_LENGTH = 32


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

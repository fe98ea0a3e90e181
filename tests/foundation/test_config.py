"""Settings from the environment (SPEC §11): zero configuration in development, and no start
in production with a default or short SECRET_KEY."""

from __future__ import annotations

import pytest

from app import cli
from app.config import DEFAULT_SECRET_KEY, ConfigurationError, Environment, Settings, get_settings

LONG_KEY = "k3Yw9-7pQ2xVb8Lm4Nr6Ts1Ud5Hf0Jg2Ke7Wc9Ay3Bz6Dx8Eq"  # 50 characters


def _settings() -> Settings:
    return Settings(_env_file=None)


@pytest.fixture
def production(monkeypatch):
    monkeypatch.setenv("GRANTS_ENV", "production")


def test_production_refuses_the_default_secret_key(production, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)

    with pytest.raises(ConfigurationError) as refused:
        _settings()

    message = str(refused.value)
    assert "SECRET_KEY" in message
    assert "GRANTS_ENV=production" in message


def test_production_refuses_the_default_key_even_when_set_explicitly(production, monkeypatch):
    # The default is long enough to pass a length check; it must be refused for what it is.
    assert len(DEFAULT_SECRET_KEY) >= 32
    monkeypatch.setenv("SECRET_KEY", DEFAULT_SECRET_KEY)

    with pytest.raises(ConfigurationError):
        _settings()


@pytest.mark.parametrize("key", ["short", "sixteen-chars-ok", "x" * 31])
def test_production_refuses_a_short_secret_key(production, monkeypatch, key):
    monkeypatch.setenv("SECRET_KEY", key)

    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        _settings()


def test_production_accepts_a_long_random_key(production, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", LONG_KEY)

    settings = _settings()

    assert settings.is_production
    assert settings.secret_key == LONG_KEY


def test_development_starts_with_no_configuration_at_all(monkeypatch):
    for name in ("GRANTS_ENV", "SECRET_KEY", "DATABASE_URL", "STORAGE_URL"):
        monkeypatch.delenv(name, raising=False)

    settings = _settings()

    assert settings.grants_env is Environment.development
    assert settings.database_url.startswith("sqlite:///")
    assert settings.storage_url.startswith("file://")
    assert settings.secret_key == DEFAULT_SECRET_KEY


def test_the_sign_in_throttle_defaults_to_five_failures_in_fifteen_minutes(monkeypatch):
    monkeypatch.delenv("LOGIN_MAX_FAILURES", raising=False)
    monkeypatch.delenv("LOGIN_WINDOW_MINUTES", raising=False)

    settings = _settings()

    assert (settings.login_max_failures, settings.login_window_minutes) == (5, 15)


def test_settings_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://grants@db.internal/grants")
    monkeypatch.setenv("STORAGE_URL", "s3://grant-documents/prod")

    settings = _settings()

    assert settings.database_url == "postgresql+psycopg://grants@db.internal/grants"
    assert settings.storage_url == "s3://grant-documents/prod"


def test_grants_serve_refuses_to_start_in_production_with_a_weak_key(
    production, monkeypatch, capsys
):
    monkeypatch.setenv("SECRET_KEY", "too-short")
    started = []
    monkeypatch.setattr("uvicorn.run", lambda *a, **kw: started.append((a, kw)))
    get_settings.cache_clear()
    try:
        code = cli.main(["serve"])
    finally:
        get_settings.cache_clear()

    assert code != 0
    assert started == []
    assert "SECRET_KEY" in capsys.readouterr().err

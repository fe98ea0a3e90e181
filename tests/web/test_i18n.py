"""Languages: every message has its Spanish translation, the language follows the visitor's
choice then Accept-Language, and amounts, dates, zones and time left follow the locale."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from app.web.i18n import TRANSLATIONS_DIR, I18n, catalogues, parse_accept_language
from tests.support.factories import Factory

ROOT = Path(__file__).resolve().parents[2]
SPANISH = {"accept-language": "es-PE,es;q=0.9,en;q=0.5"}


@cache
def _extracted() -> frozenset[str | tuple[str, ...]]:
    """Every msgid in the web package's Python and templates, as `babel.cfg` extracts them."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    web = str(ROOT / "app" / "web")

    def inside_web(path: str) -> bool:
        return web.startswith(path) or path.startswith(web)

    found: set[str | tuple[str, ...]] = set()
    for _, _, message, _, _ in extract_from_dir(
        ROOT, method_map, options_map, directory_filter=inside_web
    ):
        found.add(message if isinstance(message, str) else tuple(message[:2]))
    return frozenset(found)


def test_extraction_finds_the_messages_of_templates_and_python() -> None:
    messages = _extracted()

    assert "Save draft" in messages  # a template
    assert "Draft saved." in messages  # a page handler
    assert "Incorrect email or password." in messages  # a form helper's N_()
    assert len(messages) > 200


def test_every_message_has_a_spanish_translation() -> None:
    with (TRANSLATIONS_DIR / "es" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalogue = read_po(po, locale="es")
    translated = {
        (m.id if isinstance(m.id, str) else tuple(m.id)): m
        for m in catalogue
        if m.id and not m.fuzzy
    }

    untranslated = sorted(
        str(msgid)
        for msgid in _extracted()
        if msgid not in translated
        or not all(
            (translated[msgid].string,)
            if isinstance(translated[msgid].string, str)
            else translated[msgid].string
        )
    )

    assert untranslated == [], "add these to es/LC_MESSAGES/messages.po (docs/web.md)"
    # Placeholders must match: a translation that drops or renames %(name)s would fail at render.
    problems = [(m.id, errors) for m, errors in catalogue.check()]
    assert problems == []


def test_the_template_lists_every_message() -> None:
    with (TRANSLATIONS_DIR / "messages.pot").open("rb") as pot:
        template = {(m.id if isinstance(m.id, str) else tuple(m.id)) for m in read_po(pot) if m.id}

    assert sorted(map(str, _extracted() - template)) == [], "run pybabel extract (docs/web.md)"


def test_the_catalogue_is_compiled_in_memory_without_a_binary_file() -> None:
    assert catalogues()["es"].gettext("Save draft") == "Guardar borrador"
    assert not list(TRANSLATIONS_DIR.rglob("*.mo"))


# --- choosing the language ---------------------------------------------------------------


def test_accept_language_chooses_spanish(client: TestClient) -> None:
    page = client.get("/", headers=SPANISH)

    assert '<html lang="es">' in page.text
    assert "Convocatorias abiertas" in page.text
    assert "Saltar al contenido principal" in page.text


def test_english_is_the_default(client: TestClient) -> None:
    for headers in ({}, {"accept-language": "fr-FR,de;q=0.8"}, {"accept-language": "???"}):
        page = client.get("/", headers=headers)
        assert '<html lang="en">' in page.text


def test_the_switcher_overrides_accept_language_and_returns_to_the_page(
    client: TestClient, factory: Factory
) -> None:
    call = factory.call(publish=True)

    switched = client.get(
        f"/language/en?next=/calls/{call.id}", headers=SPANISH, follow_redirects=False
    )
    assert switched.status_code == 303
    assert switched.headers["location"] == f"/calls/{call.id}"

    page = client.get(f"/calls/{call.id}", headers=SPANISH)
    assert '<html lang="en">' in page.text
    assert "How applications are scored" in page.text


def test_the_switcher_ignores_unknown_languages_and_foreign_targets(client: TestClient) -> None:
    response = client.get("/language/xx?next=https://evil.example.org/", follow_redirects=False)

    assert response.headers["location"] == "/"
    assert "lang" not in response.cookies


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("es-PE,es;q=0.9,en;q=0.8", ["es-pe", "es", "en"]),
        ("en;q=0.2, es;q=0.7", ["es", "en"]),
        ("fr, es;q=0", ["fr"]),
        ("*;q=0.1, de", ["de", "*"]),
        ("es;q=abc, en", ["en"]),
    ],
)
def test_accept_language_is_ranked_by_quality(header: str, expected: list[str]) -> None:
    assert parse_accept_language(header) == expected


# --- formatting --------------------------------------------------------------------------


def _i18n(lang: str, zone: str | None = None) -> I18n:
    return I18n(lang, catalogues()[lang], ZoneInfo(zone) if zone else None)


def test_money_follows_the_locale() -> None:
    # US$ before the amount, the locale's grouping and decimal marks, always two decimals.
    assert _i18n("en").money(125_000_000, "USD") == "US$ 1,250,000.00"
    assert _i18n("es").money(125_000_000, "USD") == "US$ 1.250.000,00"
    assert _i18n("en").money(5, "USD") == "US$ 0.05"
    assert _i18n("es").money(80_000_000_000, "PEN") == "PEN 800.000.000,00"


def test_dates_and_times_follow_the_locale_and_the_zone() -> None:
    deadline = datetime(2026, 6, 20, 4, 59, tzinfo=UTC)  # 23:59 on the 19th in Lima (UTC-5)

    # CLDR puts a narrow no-break space (U+202F) between the time and "pm".
    assert _i18n("en").datetime(deadline, "America/Lima") == (
        "19 June 2026, 11:59\u202fpm (Peru Time)"
    )
    assert _i18n("es").datetime(deadline, "America/Lima") == (
        "19 de junio de 2026, 23:59 (hora de Perú)"
    )
    # A visitor in Madrid (UTC+2 in June) sees their own zone, whatever the call's.
    assert _i18n("en", "Europe/Madrid").datetime(deadline, "America/Lima") == (
        "20 June 2026, 6:59\u202fam (Spain (Madrid) Time)"
    )
    assert _i18n("es").date(date(2026, 6, 20)) == "20 de junio de 2026"


def test_time_left_is_spelt_out_in_the_visitors_language() -> None:
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

    assert _i18n("en").time_left(now + timedelta(days=29, hours=5), now) == (
        "29 days and 5 hours left"
    )
    assert _i18n("es").time_left(now + timedelta(days=1, minutes=30), now) == "quedan 1 día"
    assert _i18n("es").time_left(now + timedelta(hours=3, minutes=10), now) == (
        "quedan 3 horas y 10 minutos"
    )
    assert _i18n("en").time_left(now - timedelta(seconds=1), now) == "closed"


def test_the_tz_cookie_shows_deadlines_in_the_visitors_zone(
    client: TestClient, factory: Factory
) -> None:
    call = factory.call(publish=True, timezone="America/Lima")

    in_call_zone = client.get(f"/calls/{call.id}")
    client.cookies.set("tz", "Asia/Tokyo")
    in_visitor_zone = client.get(f"/calls/{call.id}")
    client.cookies.set("tz", "../../etc/passwd")
    bogus_zone = client.get(f"/calls/{call.id}")

    assert "(Peru Time)" in in_call_zone.text
    assert "(Japan Time)" in in_visitor_zone.text
    assert "(Peru Time)" in bogus_zone.text


def test_english_and_spanish_pages_show_the_same_amount_in_each_format(
    client: TestClient, factory: Factory
) -> None:
    call = factory.call(publish=True, envelope_amount="1250000.00")

    english = client.get(f"/calls/{call.id}", headers={"accept-language": "en"})
    spanish = client.get(f"/calls/{call.id}", headers=SPANISH)

    assert "US$ 1,250,000.00" in english.text
    assert "US$ 1.250.000,00" in spanish.text
    assert "Fondos disponibles" in spanish.text

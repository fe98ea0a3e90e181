"""Languages, catalogues and locale formatting for the web pages.

The source language is English; `translations/<lang>/LC_MESSAGES/messages.po` holds the others.
Catalogues are read with Babel at start-up and compiled in memory, so no binary `.mo` file is
committed and there is no build step.

The language of a request: the visitor's explicit choice (the `lang` cookie set by the switcher),
then `Accept-Language`, then English. Amounts, dates and durations are formatted with Babel's
CLDR data for a *formatting locale* per language (see `FORMAT_LOCALES`); times are shown in the
visitor's time zone (the `tz` cookie written by `static/js/tz.js`) or, without it, in the zone
the caller passes (a call's own zone).
"""

from __future__ import annotations

import datetime as dt
import gettext
import io
import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_time, get_timezone_location
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from babel.units import format_unit
from starlette.requests import Request

from app.money import to_decimal

TRANSLATIONS_DIR = Path(__file__).parent / "translations"
DOMAIN = "messages"
DEFAULT_LANGUAGE = "en"
LANGUAGES: dict[str, str] = {"en": "English", "es": "Español"}
LANG_COOKIE = "lang"
TZ_COOKIE = "tz"

# The CLDR locale whose number and date conventions each language uses. `en_001` is
# "international English": it writes the US dollar as `US$` (plain `en` writes `$`, which is
# ambiguous next to other dollars) and dates as `19 June 2026`. `es` writes `US$` and groups
# thousands with a period: CLDR's Spanish data, what Babel gives (docs/web.md, "Money").
FORMAT_LOCALES: dict[str, str] = {"en": "en_001", "es": "es"}
# Symbol first, one space, grouping, always two decimals: `US$ 1,250,000.00`.
MONEY_PATTERN = "¤ #,##0.00"

_LANGUAGE_RANGE = re.compile(
    r"^\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([01](?:\.\d{0,3})?))?\s*$"
)


def load_catalogue(lang: str) -> gettext.NullTranslations:
    """The language's `.po` file compiled in memory; English needs none."""
    po_path = TRANSLATIONS_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if lang == DEFAULT_LANGUAGE or not po_path.exists():
        return gettext.NullTranslations()
    with po_path.open("rb") as po_file:
        catalogue = read_po(po_file, locale=lang, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)  # fuzzy entries are left out, as msgfmt does
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


@cache
def catalogues() -> dict[str, gettext.NullTranslations]:
    return {lang: load_catalogue(lang) for lang in LANGUAGES}


def parse_accept_language(header: str) -> list[str]:
    """Language ranges from `Accept-Language`, best first; malformed entries are skipped."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",")[:20]):
        match = _LANGUAGE_RANGE.match(item)
        if not match:
            continue
        quality = float(match.group(2)) if match.group(2) else 1.0
        if quality > 0:
            ranked.append((-quality, position, match.group(1).lower()))
    return [tag for _, _, tag in sorted(ranked)]


def negotiate_language(request: Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE, "")
    if chosen in LANGUAGES:
        return chosen
    for tag in parse_accept_language(request.headers.get("accept-language", "")):
        primary = tag.split("-")[0]
        if primary in LANGUAGES:
            return primary
    return DEFAULT_LANGUAGE


@cache
def _format_locale(lang: str) -> Locale:
    return Locale.parse(FORMAT_LOCALES[lang])


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def visitor_zone(request: Request) -> zoneinfo.ZoneInfo | None:
    """The zone the visitor's browser reported, if it is a real IANA name."""
    name = request.cookies.get(TZ_COOKIE, "")
    if name not in _zone_names():
        return None
    return zoneinfo.ZoneInfo(name)


@dataclass(frozen=True)
class I18n:
    """One request's language, translations and formatting; templates get it as `i18n`."""

    lang: str
    translations: gettext.NullTranslations
    zone: zoneinfo.ZoneInfo | None

    @property
    def locale(self) -> Locale:
        return _format_locale(self.lang)

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)

    # --- numbers -------------------------------------------------------------------------

    def money(self, minor: int | None, currency: str) -> str:
        """`125000000, "USD"` → `US$ 1,250,000.00` (en) / `US$ 1.250.000,00` (es)."""
        if minor is None:
            return ""
        return format_currency(
            to_decimal(minor),
            currency,
            format=MONEY_PATTERN,
            locale=self.locale,
            currency_digits=False,
        )

    def number(self, value: int | float | Decimal) -> str:
        return format_decimal(value, locale=self.locale)

    def file_size(self, size: int) -> str:
        """Bytes as KiB/MiB with the locale's decimal separator (`1.5 MB`, `1,5 MB`)."""
        if size >= 1024 * 1024:
            return format_unit(
                round(size / (1024 * 1024), 1), "digital-megabyte", "short", locale=self.locale
            )
        return format_unit(
            max(1, round(size / 1024)), "digital-kilobyte", "short", locale=self.locale
        )

    # --- dates and times -----------------------------------------------------------------

    def zone_for(self, fallback: str | None) -> zoneinfo.ZoneInfo:
        if self.zone is not None:
            return self.zone
        if fallback and fallback in _zone_names():
            return zoneinfo.ZoneInfo(fallback)
        return zoneinfo.ZoneInfo("UTC")

    def date(self, value: dt.date | dt.datetime | None, zone: str | None = None) -> str:
        if value is None:
            return ""
        if isinstance(value, dt.datetime):
            value = value.astimezone(self.zone_for(zone)).date()
        return format_date(value, "long", locale=self.locale)

    def datetime(self, value: dt.datetime | None, zone: str | None = None) -> str:
        """`19 June 2026, 11:59 pm (Peru Time)`, in the visitor's zone or else `zone`."""
        if value is None:
            return ""
        tz = self.zone_for(zone)
        local = value.astimezone(tz)
        return "{date}, {time} ({zone})".format(
            date=format_date(local.date(), "long", locale=self.locale),
            time=format_time(local, "short", locale=self.locale),
            zone=get_timezone_location(tz, locale=self.locale),
        )

    def duration(self, delta: timedelta) -> str:
        """The two largest units: `29 days and 5 hours`, `3 hours and 10 minutes`."""
        minutes = max(0, int(delta.total_seconds() // 60))
        days, rest = divmod(minutes, 24 * 60)
        hours, minutes = divmod(rest, 60)
        if days:
            parts = [("duration-day", days), ("duration-hour", hours)]
        elif hours:
            parts = [("duration-hour", hours), ("duration-minute", minutes)]
        else:
            parts = [("duration-minute", minutes)]
        words = [format_unit(n, unit, "long", locale=self.locale) for unit, n in parts if n]
        return format_list(
            words or [format_unit(0, "duration-minute", locale=self.locale)], locale=self.locale
        )

    def time_left(self, deadline: dt.datetime, now: dt.datetime | None = None) -> str:
        now = now or dt.datetime.now(UTC)
        if deadline <= now:
            return self.gettext("closed")
        return self.gettext("%(duration)s left") % {"duration": self.duration(deadline - now)}


def i18n_for(request: Request) -> I18n:
    """The request's I18n, negotiated once and kept on `request.state`."""
    existing = getattr(request.state, "i18n", None)
    if isinstance(existing, I18n):
        return existing
    lang = negotiate_language(request)
    current = I18n(lang=lang, translations=catalogues()[lang], zone=visitor_zone(request))
    request.state.i18n = current
    return current

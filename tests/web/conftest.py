"""Browser tests: a real headless Chromium (Debian's package) driven by Playwright against
the app served by a real uvicorn on the committed database.

- Chromium is `CHROMIUM_PATH`, else `chromium` / `chromium-browser` on the PATH, else
  `/usr/bin/chromium`. Without it the browser tests are skipped, saying how to enable them.
- One browser per test session; a fresh context (cookies, storage) per test.
- Browser tests run on one database backend (SQLite when it is selected): what they check
  is the pages, and the services under them are tested on both backends elsewhere. Their
  copies for the other backend are deselected, not skipped (`tests/conftest.py`), and
  they run last in the session.
- Every page a test opens is watched: a Content-Security-Policy violation or an uncaught
  script error fails the test.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from app.calls.service import create_call, publish_call
from app.db import Database
from app.demo import reference_call
from app.models import Call, Role
from tests.support.factories import Factory
from tests.support.live import serve

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
HOW_TO_ENABLE = (
    "Chromium was not found: the browser tests need it. "
    "Install it with `apt-get install -y chromium` or set CHROMIUM_PATH to its executable."
)


def chromium_path() -> str | None:
    explicit = os.environ.get("CHROMIUM_PATH")
    if explicit:
        return explicit if Path(explicit).exists() else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    path = chromium_path()
    if path is None:
        pytest.skip(HOW_TO_ENABLE)
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only with a browser

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class LiveSite:
    """The app on a real server, its database through the factory, and a page opener."""

    url: str
    app: FastAPI
    factory: Factory
    db: Database
    _open: Callable[..., Any]
    problems: list[str] = field(default_factory=list)

    def new_page(self, **context_options: Any) -> Any:
        """A page in a fresh browser context (cookies, storage), 1280×800 unless told."""
        return self._open(**context_options)

    def reference_call(self, **overrides: Any) -> Call:
        """The demo's reference programme, published: what an NGO really sees."""
        officer = self.factory.user(Role.program_officer)
        payload = reference_call().model_copy(update=overrides)
        with self.db.transaction() as session:
            call = create_call(session, actor=officer, payload=payload)
            publish_call(session, actor=officer, call=call)
        return call


@pytest.fixture
def live(
    browser: Any,
    committed_app_factory: Callable[..., FastAPI],
    committed_factory: Factory,
    committed_db: Database,
) -> Iterator[LiveSite]:
    app = committed_app_factory()
    contexts: list[Any] = []
    with serve(app) as url:
        site: LiveSite

        def open_page(**options: Any) -> Any:
            options.setdefault("viewport", DESKTOP)
            context = browser.new_context(base_url=url, **options)
            contexts.append(context)
            page = context.new_page()
            page.set_default_timeout(10_000)
            page.on("console", lambda message: _watch_console(site, message))
            page.on("pageerror", lambda error: site.problems.append(f"script error: {error}"))
            return page

        site = LiveSite(url, app, committed_factory, committed_db, open_page)
        try:
            yield site
        finally:
            for context in contexts:
                context.close()
    assert site.problems == [], "the pages broke their Content-Security-Policy or threw"


def _watch_console(site: LiveSite, message: Any) -> None:
    text = message.text
    if "Content Security Policy" in text or "Refused to" in text:
        site.problems.append(f"CSP: {text}")

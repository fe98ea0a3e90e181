"""Helpers for the browser tests: the accessibility audit (axe-core) and screenshots.

`assert_accessible(page)` runs axe-core (vendored in `vendor/`, version and licence there) on
the page as it is now and fails on any `critical` or `serious` violation, listing them.
`save_screenshot(page, name)` writes `docs/screenshots/<name>.png` at the page's viewport.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

VENDOR = Path(__file__).parent / "vendor"
AXE_SCRIPT = VENDOR / "axe.min.js"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
BLOCKING_IMPACTS = ("critical", "serious")


@cache
def _axe_source() -> str:
    return AXE_SCRIPT.read_text(encoding="utf-8")


def _inject_axe(page: Any) -> None:
    """Load axe-core into the page.

    `page.add_script_tag(path=...)` adds an inline <script>, which the site's
    `Content-Security-Policy: default-src 'self'` rightly blocks. The same file is evaluated
    through the DevTools protocol instead, which the page's policy does not govern: the
    audit runs on the page exactly as users get it, policy included.
    """
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_axe_source() + "\n;undefined")


def axe_violations(page: Any) -> list[dict[str, Any]]:
    _inject_axe(page)
    results = page.evaluate(
        """async () => {
            const results = await axe.run(document, {resultTypes: ["violations"]});
            return results.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.map(n => n.target.join(" ")).slice(0, 5),
            }));
        }"""
    )
    return list(results)


def assert_accessible(page: Any, impacts: tuple[str, ...] = BLOCKING_IMPACTS) -> None:
    """No axe-core violation of the given impacts on the page as it is now."""
    found = [v for v in axe_violations(page) if v["impact"] in impacts]
    report = "\n".join(f"{v['impact']}: {v['id']} — {v['help']} at {v['targets']}" for v in found)
    assert not found, f"accessibility violations on {page.url}:\n{report}"


def save_screenshot(page: Any, name: str, *, full_page: bool = False) -> Path:
    """`docs/screenshots/<name>.png` at the page's viewport (1280×800 unless the test chose a
    phone's), shown in the README."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(target), full_page=full_page, animations="disabled")
    return target

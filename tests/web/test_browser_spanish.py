"""The NGO pages in Spanish, in a real browser: chosen by Accept-Language, changed with the
language switcher, with amounts and dates in the Spanish format."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.web.browser import assert_accessible, save_screenshot
from tests.web.conftest import LiveSite

pytestmark = pytest.mark.slow

SPANISH_DATE = r"\d{1,2} de (enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre) de \d{4}"  # noqa: E501


def _text(page: Any, selector: str) -> str:
    return " ".join(page.locator(selector).first.inner_text().split())


def test_a_spanish_speaking_ngo_gets_spanish_pages_and_can_switch(live: LiveSite) -> None:
    call = live.reference_call()
    # A browser set to Peruvian Spanish sends Accept-Language: es-PE.
    page = live.new_page(locale="es-PE", timezone_id="America/Lima")

    page.goto("/")
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.locator("h1").inner_text() == "Convocatorias abiertas"
    card = _text(page, ".card")
    assert "US$ 5.000.000,00" in card
    assert "de US$ 250.000,00 a US$ 1.500.000,00" in card
    assert re.search(SPANISH_DATE + r", \d{1,2}:\d{2} \(hora de Perú\)", card)
    assert re.search(r"quedan \d+ días", card)
    assert_accessible(page)

    page.get_by_role("link", name=call.title).click()
    assert "Cómo se califican las solicitudes" in _text(page, "main")
    page.get_by_role("link", name="registre su organización").click()
    page.get_by_label("Nombre completo").fill("Rosa Mamani")
    page.get_by_label("Correo electrónico").fill("rosa@amazonia-viva.example.org")
    page.get_by_label("Contraseña").fill("una-contraseña-segura")
    page.get_by_label("Nombre de la organización").fill("Amazonía Viva")
    country = page.get_by_label("País donde está registrada")
    assert country.locator("option[value=PE]").inner_text() == "Perú"
    country.select_option("PE")
    page.get_by_role("button", name="Crear la cuenta").click()
    assert "¡Bienvenido! La cuenta de su organización está lista." in _text(page, ".flashes")

    page.goto(f"/calls/{call.id}")
    page.get_by_role("button", name="Comenzar una solicitud").click()
    page.get_by_label("Título del proyecto").fill("Redes comunitarias de protección en Loreto")
    page.get_by_label("Importe solicitado (USD)").fill("mil dólares")
    page.get_by_role("button", name="Guardar borrador").click()
    assert "Hay un problema" in _text(page, ".error-summary")
    assert _text(page, "#field-requested_amount-error") == (
        "Error: Indique un importe como 250000.00: dígitos y como máximo dos decimales."
    )
    assert_accessible(page)

    page.get_by_label("Importe solicitado (USD)").fill("1250000.00")
    page.get_by_role("button", name="Guardar borrador").click()
    assert "Borrador guardado." in _text(page, ".flashes")
    checklist = _text(page, "#checklist")
    assert "Antes de presentar" in checklist
    assert "Escriba un resumen." in checklist
    deadline = _text(page, ".facts")
    assert re.search(SPANISH_DATE, deadline)
    assert_accessible(page)
    save_screenshot(page, "ngo-application-form-es")

    page.get_by_role("navigation", name="Principal").get_by_role(
        "link", name="Mis solicitudes"
    ).click()
    row = _text(page, "tbody tr")
    assert "US$ 1.250.000,00" in row
    assert "Borrador" in row
    assert re.search(SPANISH_DATE, row)

    # The switcher wins over Accept-Language, and is remembered.
    page.get_by_role("navigation", name="Idioma").get_by_role("link", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"
    assert "US$ 1,250,000.00" in _text(page, "tbody tr")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Open calls").click()
    assert page.locator("h1").inner_text() == "Open calls for proposals"
    page.get_by_role("navigation", name="Language").get_by_role("link", name="Español").click()
    assert page.locator("h1").inner_text() == "Convocatorias abiertas"
    assert page.url.endswith("/")

"""Client filenames become safe display names and valid Content-Disposition headers."""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.documents.filenames import content_disposition, display_name


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\evil\\a.pdf", "a.pdf"),
        ("/var/tmp/../report.docx", "report.docx"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("inv\x00oice.pdf", "invoice.pdf"),
        ("report\r\nSet-Cookie: a=b.pdf", "report Set-Cookie: a=b.pdf"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),
        ("zero\u200bwidth.pdf", "zerowidth.pdf"),
        (".htaccess", "htaccess"),
        (" . .hidden.pdf", "hidden.pdf"),
        ("Budget   final\t2026 .xlsx", "Budget final 2026 .xlsx"),
        ("line\u2028separator.pdf", "line separator.pdf"),
        ("an\u0303o.pdf", "a\u00f1o.pdf"),
        ('Informe año 2026 "final".pdf', 'Informe año 2026 "final".pdf'),
    ],
)
def test_display_name_removes_paths_and_invisible_characters(raw: str, expected: str) -> None:
    assert display_name(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "   ", "...", "../", "C:\\dir\\", "\x00\r\n", "\u202e"])
def test_display_name_falls_back_when_nothing_is_left(raw: str | None) -> None:
    assert display_name(raw) == "document"


def test_long_name_is_cut_to_200_characters_keeping_the_extension() -> None:
    name = display_name("x" * 500 + ".pdf")
    assert len(name) == 200
    assert name == "x" * 196 + ".pdf"


def test_long_name_without_a_plausible_extension_is_cut_plainly() -> None:
    assert display_name("y" * 500) == "y" * 200
    assert display_name("a." + "b" * 498) == ("a." + "b" * 498)[:200]


def test_cut_does_not_leave_a_space_before_the_extension() -> None:
    name = display_name("w" * 195 + " " + "z" * 300 + ".docx")
    assert name == "w" * 195 + ".docx"


@settings(max_examples=150, database=None, deadline=None)
@given(st.one_of(st.none(), st.text(max_size=600)))
def test_display_name_is_always_a_short_clean_single_component(raw: str | None) -> None:
    name = display_name(raw)
    assert 0 < len(name) <= 200
    assert "/" not in name
    assert "\\" not in name
    assert not name.startswith((".", " "))
    assert name == name.strip()
    assert all(unicodedata.category(ch) not in {"Cc", "Cf", "Cs"} for ch in name)
    assert unicodedata.is_normalized("NFC", name)
    assert display_name(name) == name


def test_content_disposition_has_ascii_fallback_and_utf8_name() -> None:
    header = content_disposition('Informe año 2026 "final".pdf')
    assert header == (
        'attachment; filename="Informe ano 2026 _final_.pdf"; '
        "filename*=UTF-8''Informe%20a%C3%B1o%202026%20%22final%22.pdf"
    )


def test_content_disposition_can_be_inline() -> None:
    assert content_disposition("plan.pdf", "inline") == (
        "inline; filename=\"plan.pdf\"; filename*=UTF-8''plan.pdf"
    )


def test_content_disposition_refuses_other_disposition_types() -> None:
    with pytest.raises(ValueError, match="disposition"):
        content_disposition("plan.pdf", 'attachment; filename="x.exe"')


def test_content_disposition_cleans_names_that_were_not_cleaned_first() -> None:
    header = content_disposition('a"b\r\nX-Injected: 1\x00.pdf')
    assert header == (
        'attachment; filename="a_b X-Injected: 1.pdf"; '
        "filename*=UTF-8''a%22b%20X-Injected%3A%201.pdf"
    )


@settings(max_examples=150, database=None, deadline=None)
@given(st.text(max_size=300))
def test_content_disposition_is_a_valid_header_that_round_trips(name: str) -> None:
    header = content_disposition(name)
    header.encode("ascii")  # header values must be ASCII; raises otherwise
    assert all(" " <= ch <= "~" for ch in header)
    prefix, _, encoded = header.partition("; filename*=UTF-8''")
    fallback = prefix.removeprefix('attachment; filename="').removesuffix('"')
    assert '"' not in fallback
    assert "\\" not in fallback
    assert unquote(encoded, encoding="utf-8", errors="strict") == display_name(name)

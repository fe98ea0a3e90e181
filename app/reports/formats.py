"""Tabular exports as streamed CSV or XLSX, with memory flat in the number of rows.

CSV goes out line by line (UTF-8 with a BOM, formula-safe: see `app/tabular.py`). XLSX is
written by XlsxWriter in constant-memory mode into a temporary file — each row is flushed to
disk as it is written — and the finished file is then streamed in chunks and deleted.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import xlsxwriter
from fastapi.responses import StreamingResponse

from app.tabular import csv_blocks

CHUNK = 64 * 1024


class Format(StrEnum):
    csv = "csv"
    xlsx = "xlsx"


CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_chunks(
    header: Sequence[str], rows: Iterable[Sequence[Any]], sheet: str = "Report"
) -> Iterator[bytes]:
    handle, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(handle)
    try:
        workbook = xlsxwriter.Workbook(
            path, {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
        )
        worksheet = workbook.add_worksheet(sheet[:31])
        bold = workbook.add_format({"bold": True})
        money = workbook.add_format({"num_format": "#,##0.00"})
        day = workbook.add_format({"num_format": "yyyy-mm-dd"})
        worksheet.write_row(0, 0, header, bold)
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, bool):
                    worksheet.write_boolean(r, c, value)
                elif isinstance(value, Decimal):
                    worksheet.write_number(r, c, float(value), money)
                elif isinstance(value, int | float):
                    worksheet.write_number(r, c, value)
                elif isinstance(value, datetime):
                    worksheet.write_string(r, c, value.isoformat())
                elif isinstance(value, date):
                    worksheet.write_datetime(
                        r, c, datetime(value.year, value.month, value.day), day
                    )
                else:
                    # A text cell is never evaluated: no apostrophe needed in XLSX.
                    worksheet.write_string(r, c, str(value))
        workbook.close()
        with open(path, "rb") as finished:  # noqa: PTH123 - a plain binary read loop
            while chunk := finished.read(CHUNK):
                yield chunk
    finally:
        os.unlink(path)  # noqa: PTH108


def table_response(
    fmt: Format,
    header: Sequence[str],
    rows: Callable[[], Iterator[Sequence[Any]]],
    filename: str,
) -> StreamingResponse:
    """`rows` is called when the response starts streaming (it opens its own session)."""
    if fmt is Format.xlsx:
        body: Iterator[Any] = xlsx_chunks(header, rows())
        media = XLSX_TYPE
    else:
        body = (block.encode() for block in csv_blocks(header, rows()))
        media = CSV_TYPE

    return _download(body, media, f"{filename}.{fmt.value}")


def csv_response(chunks: Callable[[], Iterator[bytes]], filename: str) -> StreamingResponse:
    """A CSV document already encoded by its producer (BOM and header included)."""
    return _download(chunks(), CSV_TYPE, f"{filename}.csv")


def _download(body: Iterator[Any], media: str, filename: str) -> StreamingResponse:
    def stream() -> Iterator[Any]:
        yield from body

    return StreamingResponse(
        stream(),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )

"""CSV output that spreadsheets open safely: UTF-8 with a BOM, and no formula injection.

A text cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return would be run as a
formula by Excel or LibreOffice; such cells get a leading apostrophe (OWASP's advice). Numbers
(int, Decimal, float) are never touched, so a negative reversal stays a number.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

BOM = "\ufeff"
_FORMULA_STARTS = frozenset("=+-@\t\r")


def neutralise(value: Any) -> Any:
    """The cell as written: formula-looking text defused, booleans spelled, None empty."""
    if isinstance(value, str):
        return "'" + value if value and value[0] in _FORMULA_STARTS else value
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The CSV document line by line, starting with the BOM and the header."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(cells: Sequence[Any]) -> str:
        writer.writerow(map(neutralise, cells))
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield BOM + line(header)
    for row in rows:
        yield line(row)


def csv_blocks(
    header: Sequence[str], rows: Iterable[Sequence[Any]], *, rows_per_block: int = 500
) -> Iterator[str]:
    """The same document as `csv_lines`, in blocks of many rows (for large streamed exports)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow(header)
    pending = 0
    for row in rows:
        writer.writerow(map(neutralise, row))
        pending += 1
        if pending == rows_per_block:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue()

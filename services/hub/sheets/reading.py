"""Opening a county's spreadsheet: the file's rows, and its headers matched to the columns.

CSV in UTF-8 (with or without BOM), UTF-16 with BOM or GB18030/GBK as Chinese Excel saves it,
comma- or tab-separated; XLSX through openpyxl, read-only. The first non-empty row holds the
headers, matched to an import's columns in Chinese or English whatever their width, spacing or
`*` markers (a running-number column such as 序号 is ignored); unknown, missing and repeated
headers stop the import with a SheetError that says what to do.
"""
import codecs
import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from hub.i18n import _
from hub.sheets.cells import blank, text

IGNORED_HEADERS = frozenset({"序号", "no", "no."})     # a running number many sheets start with
IGNORED = object()            # the matched column of an ignored header
CSV_SUFFIXES, XLSX_SUFFIXES = (".csv", ".txt", ".tsv"), (".xlsx", ".xlsm")


class SheetError(ValueError):
    """The import cannot be done, and nothing was written: the file, its headers or the
    database cannot be used (the message says what to do)."""


@dataclass(frozen=True)
class Column:
    """A column an import accepts, and where its value goes in the API's body."""
    key: str                  # the English header: the API's field name
    names: tuple = ()         # other headers accepted (Chinese), the first one shown in messages
    convert: object = text    # cell text -> API value (hub.sheets.cells)
    path: tuple = ()          # where the value goes in the body, when not at (key,)
    exact_text: bool = False  # a cell typed as a number is refused: its digits may be lost

    def __post_init__(self):
        if not self.path:
            object.__setattr__(self, "path", (self.key,))

    @property
    def help(self):
        """How the column is named in messages: '身份证号/id_number'."""
        return f"{self.names[0] + '/' if self.names else ''}{self.key}"


def header_key(value):
    """Normalise a header cell: full-width to ASCII, no spaces or `*` markers, lower case."""
    value = unicodedata.normalize("NFKC", str(value)).strip().strip("*").strip().lower()
    return re.sub(r"[\s\-]+", "_", value)


def match_headers(header, line, columns, required=()):
    """The column of each header cell (IGNORED, or None when the cell is empty) and
    {column key: header as written}; SheetError when a header is unknown or repeated, or a
    `required` key has no column."""
    index = {header_key(name): c for c in columns for name in (c.key, *c.names)}
    matched, headers, unknown = [], {}, []
    for cell in header:
        written = "" if cell is None else str(cell).strip()
        key = header_key(written)
        column = index.get(key) if written else None
        if column is None and key in IGNORED_HEADERS:
            column = IGNORED
        elif column is None and written:
            unknown.append(written)
        if column is not None and column is not IGNORED:
            if column.key in headers:
                raise SheetError(_("Columns '{first}' and '{second}' (line {line}) both mean "
                                   "{key}: keep one of them.", first=headers[column.key],
                                   second=written, line=line, key=column.key))
            headers[column.key] = written
        matched.append(column)
    if unknown:
        known = ", ".join(c.help for c in columns)
        raise SheetError(_("Unknown column header(s) {unknown} in line {line} (the first "
                           "non-empty row must be the headers). Rename or remove them; known "
                           "columns: {known}.", unknown=", ".join(map(repr, unknown)), line=line,
                           known=known))
    by_key = {c.key: c for c in columns}
    missing = [by_key.get(k, Column(k)) for k in required if k not in headers]
    if missing:
        raise SheetError(_("Required column(s) missing: {missing} (headers are in line {line}). "
                           "Nothing was imported.", missing=", ".join(c.help for c in missing),
                           line=line))
    return matched, headers


@dataclass
class Sheet:
    """A file's first sheet, its headers matched; close() it when done (or use `with`)."""
    columns: list             # per header cell: its Column, IGNORED, or None (empty header)
    headers: dict             # column key -> header as written
    header_line: int
    lines: object             # iterator of (line number, cells) after the header, blank included
    total: int | None         # lines after the header, when known
    close: object = lambda: None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def decode(raw):
    """UTF-8 (with or without BOM), UTF-16 with BOM, or GB18030 (GBK) as Chinese Excel saves."""
    if raw.startswith(codecs.BOM_UTF8):
        return raw[len(codecs.BOM_UTF8):].decode("utf-8")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16")
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise SheetError(_("The file is neither UTF-8 nor GB18030/GBK text: save it as CSV (UTF-8) "
                       "or XLSX from the spreadsheet program."))


def _first_nonblank(numbered):
    for line, cells in numbered:
        if not blank(cells):
            return line, list(cells)
    raise SheetError(_("The file has no header row (it is empty)."))


def _csv_lines(path):
    """(numbered rows, how many rows, close) of a CSV file."""
    content = decode(Path(path).read_bytes())
    first = next((line for line in content.splitlines() if line.strip()), "")
    delimiter = "\t" if "\t" in first and "," not in first else ","
    count = sum(1 for _ in csv.reader(io.StringIO(content, newline=""), delimiter=delimiter))
    rows = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter)
    return enumerate(rows, start=1), count, lambda: None


def _xlsx_lines(path):
    """(numbered rows, how many rows or None, close) of an XLSX workbook's active sheet."""
    import openpyxl
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise SheetError(_("Cannot read {file} as an XLSX workbook ({error}).",
                           file=Path(path).name, error=type(exc).__name__))
    sheet = book.active
    return _damage_told(path, sheet.iter_rows(min_row=1, values_only=True)), sheet.max_row, \
        book.close


def _damage_told(path, rows):
    """(line, cells) of a workbook's rows; SheetError where they cannot be read (a damaged or
    truncated file: found only on reaching it, the workbook being read as it goes)."""
    line = 0
    try:
        for line, cells in enumerate(rows, start=1):
            yield line, cells
    except Exception as exc:
        raise SheetError(_("Cannot read {file} after line {line} ({error}): the workbook is "
                           "damaged. Open it and save it again as .xlsx.", file=Path(path).name,
                           line=line, error=type(exc).__name__)) from None


def open_sheet(path, columns, required=()):
    """The file's first sheet with its headers matched to `columns` (see match_headers);
    SheetError when the file or its headers cannot be used."""
    suffix = Path(path).suffix.lower()
    if suffix in XLSX_SUFFIXES:
        numbered, count, close = _xlsx_lines(path)
    elif suffix in CSV_SUFFIXES:
        numbered, count, close = _csv_lines(path)
    else:
        raise SheetError(_("Cannot import a {suffix} file: save it as .xlsx or .csv (an old "
                           ".xls: open it and 'Save as' .xlsx).",
                           suffix=suffix or "suffix-less"))
    try:
        line, header = _first_nonblank(numbered)
        matched, headers = match_headers(header, line, columns, required)
    except BaseException:
        close()
        raise
    return Sheet(matched, headers, line, numbered, count - line if count else None, close)

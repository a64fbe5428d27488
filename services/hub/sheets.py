"""Reading a county's spreadsheet (CSV or XLSX) for a bulk import: the part no service owns.

CSV in UTF-8 (with or without BOM), UTF-16 with BOM or GB18030/GBK as Chinese Excel saves it,
comma- or tab-separated; XLSX through openpyxl, read-only. The first non-empty row holds the
headers, matched to an importer's columns in Chinese or English whatever their width, spacing or
`*` markers (a running-number column such as 序号 is ignored); unknown, missing and repeated
headers stop the import with a SheetError that says what to do. Cells come out as text (dates as
ISO dates) for the importer's own conversions, and a summary writes the rejected rows as a CSV
report. Which columns exist, how values convert and how rows are checked and written stay with
each importer.
"""
import codecs
import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

DATE_PARTS = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
IGNORED_HEADERS = frozenset({"序号", "no", "no."})     # a running number many sheets start with
IGNORED = object()            # the matched column of an ignored header
CSV_SUFFIXES, XLSX_SUFFIXES = (".csv", ".txt", ".tsv"), (".xlsx", ".xlsm")


class SheetError(ValueError):
    """The file cannot be read as a table of the expected columns (says what to do)."""


# -- cell text -> API value ------------------------------------------------------------------------

def text(value):
    return value


def to_date(value):
    """'2024/1/5', '2024.1.5', '2024年1月5日', '20240105' -> '2024-01-05'; others as they are."""
    if len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    parts = DATE_PARTS.match(value)
    if parts:
        y, m, d = parts.groups()
        return f"{y}-{int(m):02d}-{int(d):02d}"
    return value


def to_int(value):
    try:
        return int(value)
    except ValueError:
        return value          # the schema names the field and says why


def cell_value(cell, convert=text):
    """A cell's value, None when empty: a date as its ISO date, anything else as its text
    (full width folded, trimmed, a whole number without '.0') given to `convert`."""
    if cell is None:
        return None
    if isinstance(cell, datetime):
        cell = cell.date()
    if isinstance(cell, date):
        return cell.isoformat()
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    value = unicodedata.normalize("NFKC", str(cell)).strip()
    return convert(value) if value else None


def blank(cells):
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


# -- headers ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    """A column an importer accepts. match_headers needs only `key` and `names`."""
    key: str                  # the API's field name, also accepted as a header
    names: tuple = ()         # other headers accepted (Chinese), the first one shown in help
    convert: object = text    # cell text -> API value


def header_key(value):
    """Normalise a header cell: full-width to ASCII, no spaces or `*` markers, lower case."""
    value = unicodedata.normalize("NFKC", str(value)).strip().strip("*").strip().lower()
    return re.sub(r"[\s\-]+", "_", value)


def column_help(column):
    """How a column is named in messages: '身份证号/id_number'."""
    return f"{column.names[0] + '/' if column.names else ''}{column.key}"


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
                raise SheetError(f"Columns '{headers[column.key]}' and '{written}' (line {line}) "
                                 f"both mean {column.key}: keep one of them.")
            headers[column.key] = written
        matched.append(column)
    if unknown:
        known = ", ".join(column_help(c) for c in columns)
        raise SheetError(f"Unknown column header(s) {', '.join(map(repr, unknown))} in line "
                         f"{line} (the first non-empty row must be the headers). Rename or remove "
                         f"them; known columns: {known}.")
    by_key = {c.key: c for c in columns}
    missing = [by_key[k] if k in by_key else Column(k) for k in required if k not in headers]
    if missing:
        raise SheetError("Required column(s) missing: " + ", ".join(map(column_help, missing))
                         + f" (headers are in line {line}). Nothing was imported.")
    return matched, headers


# -- the file --------------------------------------------------------------------------------------

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
    raise SheetError("The file is neither UTF-8 nor GB18030/GBK text: save it as CSV (UTF-8) "
                     "or XLSX from the spreadsheet program.")


def _first_nonblank(numbered):
    for line, cells in numbered:
        if not blank(cells):
            return line, list(cells)
    raise SheetError("The file has no header row (it is empty).")


def _csv_lines(path):
    """(numbered rows, how many rows) of a CSV file."""
    content = decode(Path(path).read_bytes())
    first = content.split("\n", 1)[0]
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
        raise SheetError(f"Cannot read {Path(path).name} as an XLSX workbook "
                         f"({type(exc).__name__}).")
    sheet = book.active
    rows = sheet.iter_rows(min_row=1, values_only=True)
    return enumerate(rows, start=1), sheet.max_row, book.close


def open_sheet(path, columns, required=()):
    """The file's first sheet with its headers matched to `columns` (see match_headers);
    SheetError when the file or its headers cannot be used."""
    suffix = Path(path).suffix.lower()
    if suffix in XLSX_SUFFIXES:
        numbered, count, close = _xlsx_lines(path)
    elif suffix in CSV_SUFFIXES:
        numbered, count, close = _csv_lines(path)
    else:
        raise SheetError(f"Cannot import a {suffix or 'suffix-less'} file: save it as .xlsx or "
                         ".csv (an old .xls: open it and 'Save as' .xlsx).")
    try:
        line, header = _first_nonblank(numbered)
        matched, headers = match_headers(header, line, columns, required)
    except BaseException:
        close()
        raise
    return Sheet(matched, headers, line, numbered, count - line if count else None, close)


# -- the outcome -----------------------------------------------------------------------------------

def flatten(messages, path=()):
    """marshmallow/HubError field messages -> [(path, message)], list indexes as 'item N'."""
    if isinstance(messages, str):
        return [(path, messages)]
    if isinstance(messages, dict):
        out = []
        for key, value in messages.items():
            if isinstance(key, int):
                out += [(p, f"item {key + 1}: {m}") for p, m in flatten(value, path)]
            else:
                out += flatten(value, path + (str(key),))
        return out
    return [pm for item in messages for pm in flatten(item, path)]


@dataclass
class ImportSummary:
    """What an import did: rows read, imported and rejected, and the time it took. `rejected`
    holds the importer's own entries; report_rows() lists them as (line, field, reason)."""
    path: str
    rows_read: int = 0
    imported: int = 0
    rejected: list = field(default_factory=list)
    seconds: float = 0.0
    report_path: str | None = None

    def report_rows(self):
        """(line, field, reason) of each problem of the rejected rows."""
        return self.rejected

    def headline(self):
        rows = len({row[0] for row in self.report_rows()})
        return (f"{Path(self.path).name}: {self.rows_read} row(s) read, {self.imported} imported, "
                f"{rows} rejected in {self.seconds:.1f}s")

    def write_report(self, path):
        """The rejected rows as CSV (line, field, reason), UTF-8 with BOM so Excel reads it."""
        with open(path, "w", newline="", encoding="utf-8-sig") as fh:
            out = csv.writer(fh)
            out.writerow(["line", "field", "reason"])
            out.writerows(self.report_rows())
        self.report_path = str(path)

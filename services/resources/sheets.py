"""Reading a county's spreadsheet (CSV or XLSX) as records keyed by column, for bulk imports.

Generic on purpose (nothing here knows a service): CSV in UTF-8 (with or without BOM), UTF-16
with BOM or GB18030/GBK as Chinese Excel saves it; XLSX through openpyxl; the first non-empty
row holds the headers, matched in Chinese or English whatever their width, spacing or `*`
markers. It could move to the hub chassis as the one reader of every importer.
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


class SheetError(ValueError):
    """The file cannot be read as a table of the expected columns (says what to do)."""


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


@dataclass(frozen=True)
class Column:
    key: str                  # the API's field name, also accepted as a header
    names: tuple = ()         # other headers accepted (Chinese)
    convert: object = text    # cell text -> API value
    exact_text: bool = False  # numbers lose digits here (ID numbers): a numeric cell is refused


def header_key(value):
    """Normalise a header cell: full-width to ASCII, no spaces or `*` markers, lower case."""
    value = unicodedata.normalize("NFKC", str(value)).strip().strip("*").strip().lower()
    return re.sub(r"[\s\-]+", "_", value)


def decode(raw):
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


def rows(path):
    """(line number, cells) of every row of the file's first sheet."""
    suffix = Path(path).suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        content = decode(Path(path).read_bytes())
        first = content.split("\n", 1)[0]
        delimiter = "\t" if "\t" in first and "," not in first else ","
        yield from enumerate(csv.reader(io.StringIO(content, newline=""), delimiter=delimiter), 1)
    elif suffix in (".xlsx", ".xlsm"):
        import openpyxl
        try:
            book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:
            raise SheetError(f"Cannot read {Path(path).name} as an XLSX workbook "
                             f"({type(exc).__name__}).")
        try:
            yield from enumerate(book.active.iter_rows(values_only=True), 1)
        finally:
            book.close()
    else:
        raise SheetError(f"Cannot import a {suffix or 'suffix-less'} file: save it as .xlsx or "
                         ".csv (an old .xls: open it and 'Save as' .xlsx).")


def blank(cells):
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


@dataclass
class Table:
    """A file's records: `headers` maps each column key to its header as written."""
    headers: dict
    records: object           # iterator of (line, {key: value}, [problems])


def read(path, columns, required=()):
    """The file's records for `columns`; SheetError when headers are unknown or missing."""
    numbered = (r for r in rows(path) if not blank(r[1]))
    try:
        header_line, header = next(numbered)
    except StopIteration:
        raise SheetError("The file has no header row (it is empty).")
    index = {header_key(n): c for c in columns for n in (c.key, *c.names)}
    matched, headers, unknown = [], {}, []
    for cell in header:
        written = "" if cell is None else str(cell).strip()
        column = index.get(header_key(written)) if written else None
        if written and column is None and header_key(written) not in IGNORED_HEADERS:
            unknown.append(written)
        if column is not None:
            if column.key in headers:
                raise SheetError(f"Columns '{headers[column.key]}' and '{written}' (line "
                                 f"{header_line}) both mean {column.key}: keep one of them.")
            headers[column.key] = written
        matched.append(column)
    known = ", ".join(f"{c.names[0] + '/' if c.names else ''}{c.key}" for c in columns)
    if unknown:
        raise SheetError(f"Unknown column header(s) {', '.join(map(repr, unknown))} in line "
                         f"{header_line}; known columns: {known}.")
    missing = [c for c in required if c not in headers]
    if missing:
        raise SheetError(f"Required column(s) missing: {', '.join(missing)} (headers are in line "
                         f"{header_line}). Nothing was imported.")
    return Table(headers, (record(line, cells, matched) for line, cells in numbered))


def record(line, cells, columns):
    values, problems = {}, []
    for i, cell in enumerate(cells):
        column = columns[i] if i < len(columns) else None
        if column is None:
            if i >= len(columns) and not blank([cell]):
                problems.append(("", f"a value in column {i + 1}, which has no header"))
            continue
        if cell is None:
            continue
        if column.exact_text and isinstance(cell, (int, float)) and not isinstance(cell, bool):
            problems.append((column.key, "stored as a number, which loses digits: format the "
                                         "column as text and enter the values again"))
            continue
        if isinstance(cell, datetime):
            cell = cell.date()
        if isinstance(cell, date):
            values[column.key] = cell.isoformat()
            continue
        if isinstance(cell, float) and cell.is_integer():
            cell = int(cell)
        value = unicodedata.normalize("NFKC", str(cell)).strip()
        if value:
            values[column.key] = column.convert(value)
    return line, values, problems


@dataclass
class ImportSummary:
    """What an import did: rows read, imported, and the rejected lines with field and reason."""
    path: str
    rows_read: int = 0
    imported: int = 0
    rejected: list = field(default_factory=list)     # (line, field, reason)
    seconds: float = 0.0

    def reject(self, line, problems):
        self.rejected += [(line, f, reason) for f, reason in problems]

    def describe(self, limit=20):
        lines = [f"{Path(self.path).name}: {self.rows_read} row(s) read, {self.imported} "
                 f"imported, {len({r[0] for r in self.rejected})} rejected in {self.seconds:.1f}s"]
        lines += [f"line {n}: {f or 'row'}: {reason}" for n, f, reason in self.rejected[:limit]]
        if len(self.rejected) > limit:
            lines.append(f"... and {len(self.rejected) - limit} more; use --report FILE")
        return "\n".join(lines)

    def write_report(self, path):
        """The rejected rows as CSV (line, field, reason), UTF-8 with BOM so Excel reads it."""
        with open(path, "w", newline="", encoding="utf-8-sig") as fh:
            out = csv.writer(fh)
            out.writerow(["line", "field", "reason"])
            out.writerows(self.rejected)


def flatten(messages, path=""):
    """marshmallow/HubError field messages -> [(field path, message)]."""
    if isinstance(messages, str):
        return [(path, messages)]
    if isinstance(messages, dict):
        return [pm for k, v in messages.items()
                for pm in flatten(v, f"{path}.{k}" if path else str(k))]
    return [pm for item in messages for pm in flatten(item, path)]

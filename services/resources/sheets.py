"""A worker or volunteer spreadsheet as records keyed by column, rejections as (line, field, reason).

The reading itself (encodings, XLSX, header matching, cell text, the CSV report) is the chassis'
hub.sheets; this adds what the resources importers make of it: a cell typed as a number refused
where digits matter (ID numbers), and the summary the `hub import workers|volunteers` command
prints.
"""
from dataclasses import dataclass

from hub import sheets
from hub.sheets import IGNORED, SheetError, blank, header_key, to_date, to_int

__all__ = ["Column", "ImportSummary", "SheetError", "Table", "flatten", "header_key", "read",
           "record", "to_date", "to_int"]


@dataclass(frozen=True)
class Column(sheets.Column):
    exact_text: bool = False  # numbers lose digits here (ID numbers): a numeric cell is refused


@dataclass
class Table:
    """A file's records: `headers` maps each column key to its header as written."""
    headers: dict
    records: object           # iterator of (line, {key: value}, [problems])
    close: object             # call when done with the records


def read(path, columns, required=()):
    """The file's records for `columns`; SheetError when headers are unknown or missing."""
    sheet = sheets.open_sheet(path, columns, required)
    records = (record(line, cells, sheet.columns) for line, cells in sheet.lines
               if not blank(cells))
    return Table(sheet.headers, records, sheet.close)


def record(line, cells, columns):
    values, problems = {}, []
    for i, cell in enumerate(cells):
        column = columns[i] if i < len(columns) else None
        if column is None or column is IGNORED:
            if i >= len(columns) and not blank([cell]):
                problems.append(("", f"a value in column {i + 1}, which has no header"))
            continue
        if column.exact_text and isinstance(cell, (int, float)) and not isinstance(cell, bool):
            problems.append((column.key, "stored as a number, which loses digits: format the "
                                         "column as text and enter the values again"))
            continue
        value = sheets.cell_value(cell, column.convert)
        if value is not None:
            values[column.key] = value
    return line, values, problems


class ImportSummary(sheets.ImportSummary):
    """What an import did; `rejected` holds (line, field, reason) entries."""

    def reject(self, line, problems):
        self.rejected += [(line, f, reason) for f, reason in problems]

    def describe(self, limit=20):
        lines = [self.headline()]
        lines += [f"line {n}: {f or 'row'}: {reason}" for n, f, reason in self.rejected[:limit]]
        if len(self.rejected) > limit:
            lines.append(f"... and {len(self.rejected) - limit} more; use --report FILE")
        return "\n".join(lines)


def flatten(messages):
    """marshmallow/HubError field messages -> [(field path, message)]."""
    return [(".".join(path), message) for path, message in sheets.flatten(messages)]

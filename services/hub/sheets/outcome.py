"""What an import did: rows read, imported and rejected, the rejections by line, field and reason.

A rejection names the row's line, the field (with the file's header for it) and the reason the
API's checks gave, never a value of the row: the summary goes to the terminal, the report
(`--report FILE`, CSV: line, field, reason) to the operator who fixes the rows.
"""
import csv
from dataclasses import dataclass, field, replace
from pathlib import Path

from hub.sheets.reading import header_key


@dataclass(frozen=True)
class Problem:
    field: str                  # the API's name, e.g. "consent.date"; "" for the whole row
    message: str
    column: str | None = None   # the file's header for it, when it has one

    @property
    def label(self):
        if self.column and header_key(self.column) != header_key(self.field):
            return f"{self.column} ({self.field})"
        return self.field or "row"


@dataclass(frozen=True)
class RejectedRow:
    line: int
    problems: tuple

    def describe(self):
        return f"line {self.line}: " + "; ".join(f"{p.label}: {p.message}" for p in self.problems)


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


def field_problems(messages, columns, headers):
    """Field messages (marshmallow's or a HubError's) as Problems naming the file's headers."""
    by_path = {c.path: c.key for c in columns}
    return [Problem(".".join(path), message, headers.get(by_path.get(path)))
            for path, message in flatten(messages)]


def refusal_problems(refused, columns, headers):
    """A HubError the use case refused a row with, as Problems; a conflict's existing record
    (extra `existing_client_id` …) is named after the message: 'already registered (client …)'."""
    problems = field_problems(refused.fields, columns, headers) or [Problem("", refused.message)]
    existing = [(k[len("existing_"):-len("_id")], v) for k, v in refused.extra.items()
                if k.startswith("existing_") and k.endswith("_id")]
    if existing:
        what, record_id = existing[0]
        problems = [replace(p, message=f"{p.message} ({what} {record_id})") for p in problems]
    return problems


@dataclass
class ImportSummary:
    """What an import did: `rejected` counts the rejected rows, `rejected_rows` lists them."""
    path: str
    rows_read: int = 0
    imported: int = 0
    rejected_rows: list = field(default_factory=list)      # RejectedRows, by line
    seconds: float = 0.0
    report_path: str | None = None

    @property
    def rejected(self):
        return len(self.rejected_rows)

    def report_rows(self):
        """(line, field, reason) of each problem of the rejected rows."""
        return [(row.line, p.label, p.message) for row in self.rejected_rows for p in row.problems]

    def write_report(self, path):
        """The rejected rows as CSV (line, field, reason), UTF-8 with BOM so Excel reads it."""
        with open(path, "w", newline="", encoding="utf-8-sig") as fh:
            out = csv.writer(fh)
            out.writerow(["line", "field", "reason"])
            out.writerows(self.report_rows())
        self.report_path = str(path)

    def describe(self, limit=20):
        """The headline and the first `limit` rejected rows, for the terminal."""
        rate = f", {self.rows_read / self.seconds:,.0f} rows/s" if self.seconds else ""
        lines = [f"{Path(self.path).name}: {self.rows_read} row(s) read, {self.imported} "
                 f"imported, {self.rejected} rejected in {self.seconds:.1f}s{rate}"]
        lines += [row.describe() for row in self.rejected_rows[:limit]]
        more = self.rejected - limit
        if more > 0:
            lines.append(f"... and {more} more rejected row(s)"
                         + (f"; all are in {self.report_path}" if self.report_path
                            else "; use --report FILE to list them all"))
        elif self.rejected and self.report_path:
            lines.append(f"rejected rows written to {self.report_path}")
        return "\n".join(lines)

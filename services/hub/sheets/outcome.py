"""What an import did: rows read, imported and rejected, the rejections by line, field and reason.

A rejection names the row's line, the field (with the file's header for it) and the reason the
API's checks gave, never a value of the row: the summary goes to the terminal, the report
(`--report FILE`, CSV: line, field, reason) to the operator who fixes the rows. Both are in
Chinese unless English is asked for (`locale`, hub.i18n): the rows' reasons are kept as
messages and rendered when shown.
"""
import csv
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from hub.i18n import CHINESE, _, translate
from hub.sheets.reading import header_key

REPORT_LOCALE = CHINESE     # the language of a report unless another is asked for


@dataclass(frozen=True)
class Problem:
    field: str                  # the API's name, e.g. "consent.date"; "" for the whole row
    message: str
    column: str | None = None   # the file's header for it, when it has one

    @property
    def label(self):
        return self.label_in(None)

    def label_in(self, locale):
        """The field as the report names it: the file's header (the API's name), or the row."""
        if self.column and header_key(self.column) != header_key(self.field):
            return f"{self.column} ({self.field})"
        return self.field or translate(_("row"), locale)


@dataclass(frozen=True)
class RejectedRow:
    line: int
    problems: tuple

    def describe(self, locale=REPORT_LOCALE):
        problems = "; ".join(translate(_("{field}: {reason}", field=p.label_in(locale),
                                         reason=translate(p.message, locale)), locale)
                             for p in self.problems)
        return translate(_("line {line}: {problems}", line=self.line, problems=problems), locale)


def flatten(messages, path=()):
    """marshmallow/HubError field messages -> [(path, message)], list indexes as 'item N'."""
    if isinstance(messages, str):
        return [(path, messages)]
    if isinstance(messages, dict):
        out = []
        for key, value in messages.items():
            if isinstance(key, int):
                out += [(p, _("item {number}: {message}", number=key + 1, message=m))
                        for p, m in flatten(value, path)]
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
        problems = [replace(p, message=_("{message} ({what} {record_id})", message=p.message,
                                         what=what, record_id=record_id)) for p in problems]
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
    locale: str = REPORT_LOCALE             # the language it is shown and written in
    changes: Counter = field(default_factory=Counter)  # recorded/updated/unchanged, when told
    notes: list = field(default_factory=list)          # what the importer's finish did

    @property
    def rejected(self):
        return len(self.rejected_rows)

    def report_rows(self, locale=None):
        """(line, field, reason) of each problem of the rejected rows, in `locale` (else the
        summary's)."""
        locale = locale or self.locale
        return [(row.line, p.label_in(locale), translate(p.message, locale))
                for row in self.rejected_rows for p in row.problems]

    def as_json(self, locale=None):
        """The summary as an import endpoint answers it, its reasons in `locale` (for an HTTP
        caller: `negotiate(Accept-Language, default=REPORT_LOCALE)`, Chinese unless asked)."""
        return {"rows_read": self.rows_read, "imported": self.imported,
                "rejected": self.rejected, "changes": dict(self.changes),
                "notes": [translate(note, locale or self.locale) for note in self.notes],
                "rejections": [{"line": line, "field": label, "reason": reason}
                               for line, label, reason in self.report_rows(locale)]}

    def write_report(self, path, locale=None):
        """The rejected rows as CSV (line, field, reason), UTF-8 with BOM so Excel reads it."""
        locale = locale or self.locale
        with open(path, "w", newline="", encoding="utf-8-sig") as fh:
            out = csv.writer(fh)
            out.writerow([translate(h, locale) for h in (_("line"), _("field"), _("reason"))])
            out.writerows(self.report_rows(locale))
        self.report_path = str(path)

    def describe(self, limit=20, locale=None):
        """The headline and the first `limit` rejected rows, for the terminal."""
        locale = locale or self.locale
        rate = (_(", {rate} rows/s", rate=format(self.rows_read / self.seconds, ",.0f"))
                if self.seconds else "")
        lines = [_("{file}: {read} row(s) read, {imported} imported, {rejected} rejected in "
                   "{seconds}s{rate}", file=Path(self.path).name, read=self.rows_read,
                   imported=self.imported, rejected=self.rejected,
                   seconds=format(self.seconds, ".1f"), rate=rate)]
        if self.changes:
            lines.append(_("{recorded} new, {updated} updated, {unchanged} unchanged",
                           recorded=self.changes["recorded"], updated=self.changes["updated"],
                           unchanged=self.changes["unchanged"]))
        lines += self.notes
        lines += [row.describe(locale) for row in self.rejected_rows[:limit]]
        more = self.rejected - limit
        if more > 0:
            lines.append(_("... and {more} more rejected row(s); all are in {report}",
                           more=more, report=self.report_path) if self.report_path
                         else _("... and {more} more rejected row(s); use --report FILE to "
                                "list them all", more=more))
        elif self.rejected and self.report_path:
            lines.append(_("rejected rows written to {report}", report=self.report_path))
        return "\n".join(translate(line, locale) for line in lines)

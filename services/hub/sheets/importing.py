"""Importer: what a `hub import KIND` declares, and the run every import shares.

A service declares an import by subclassing Importer in its own module and making one
module-level instance of it (intake.importer.CLIENTS, …): the columns (headers in English and
Chinese, conversions, where each value goes in the API's body), the API's schema that checks
each row, what must be unique within the file, and `write`, how a chunk of checked bodies goes
through the service's use case. `run` does the rest: the file is read and checked by a process
of its own (hub.sheets.checking) while this one writes (hub.sheets.writing), with a progress
bar; the whole file is written in one transaction, or nothing of it.
"""
import logging
import sys
import time
from pathlib import Path

from tqdm import tqdm

from hub.sheets.checking import CheckedRows
from hub.sheets.outcome import REPORT_LOCALE, ImportSummary
from hub.sheets.writing import open_database, write_all

log = logging.getLogger(__name__)


class Importer:
    """A spreadsheet import: subclass it, declare the class attributes, define `write`, and
    make one instance at module level (the reader process finds the class by its name)."""

    kind = ""                 # the `hub import KIND` word: "clients"
    help = ""                 # one line for the command's help
    service = ""              # the service whose database the rows go to
    columns = ()              # hub.sheets.Column, one per column the file may have
    schema = None             # the API's marshmallow schema for the body (checks each row)
    unique = {}               # field -> its comparison key: a later row repeating it is rejected
    audit_action = None       # an operator audit entry per chunk, naming the records written
    chunk_rows = 1000         # rows checked, sent and written together
    options = {}              # flag -> its help: `hub import KIND --flag` passes {flag: True}

    def refine(self, settings, body):
        """The row's body before the schema loads it (in the reader process): for conversions
        that need the settings, such as a township's name to its code."""
        return body

    def write(self, tx, settings, bodies, actor):
        """Register the checked bodies in the open transaction `tx`: one outcome per body, in
        order: the record written (a mapping with its "id"), or the HubError refusing it, for
        which nothing was written (hub.sheets.one_at_a_time makes sure of that)."""
        raise NotImplementedError

    def finish(self, tx, settings, written, summary, actor, options):
        """After the last chunk, in the file's transaction: what an import that keeps records up
        to date does with the records the file did not name (`written`: the ids of the records
        its rows wrote; `summary` so far, with the rejected rows). Returns messages (Messages)
        for the summary. Nothing by default."""
        return []

    def required(self):
        """The keys of the columns the schema requires (each level of their path required)."""
        def required(path):
            schema = self.schema()
            for part in path:
                f = schema.fields[part]
                if not f.required:
                    return False
                schema = getattr(f, "schema", None)
            return True
        return tuple(c.key for c in self.columns if required(c.path))

    def run(self, settings, path, *, report_path=None, progress=True, actor=None,
            chunk_rows=None, locale=REPORT_LOCALE, options=None):
        """Import the CSV or XLSX file at `path`; its ImportSummary (shown and written in
        `locale`: Chinese unless "en" is asked for). `options`: the flags of `self.options`
        asked for ({flag: True}).

        Raises hub.sheets.SheetError, with nothing written, when the file or its headers cannot
        be used, or when the import stops part-way (the database failed, it was interrupted).
        """
        started = time.perf_counter()
        summary = ImportSummary(str(path), locale=locale)
        actor = actor or f"import:{Path(path).name}"
        with CheckedRows(self, settings, path, chunk_rows or self.chunk_rows) as rows:
            db = open_database(settings, self.service)
            try:
                with tqdm(total=rows.total, unit="row", desc=f"importing {self.kind}",
                          file=sys.stderr, disable=not progress, dynamic_ncols=True) as bar:
                    write_all(self, settings, db, rows, summary, actor, bar, options or {})
            finally:
                db.close()
        summary.seconds = time.perf_counter() - started
        if report_path:
            summary.write_report(report_path)
        log.info("import of %s %s: %d read, %d imported, %d rejected in %.1fs", self.kind,
                 Path(path).name, summary.rows_read, summary.imported, summary.rejected,
                 summary.seconds)
        return summary

    def __repr__(self):
        return f"<{type(self).__name__} {self.kind!r}>"

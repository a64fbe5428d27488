"""Writing an import's checked rows: the whole file in one transaction, a chunk at a time.

All or nothing: the file's accepted rows commit together at the end, or, if the database fails,
the import is interrupted or the file turns out unreadable part-way, none of them does. A row
the use case refuses (already registered, a rule the schema cannot see) or the database refuses
(a constraint) is rejected alone, as a row the checks refused is: it leaves nothing behind.
"""
import logging
from collections import Counter

import psycopg
from psycopg_pool import PoolTimeout

from hub import audit
from hub.db import Database
from hub.errors import HubError
from hub.i18n import _
from hub.migrate import migrate
from hub.sheets.outcome import Problem, RejectedRow, refusal_problems
from hub.sheets.reading import SheetError

log = logging.getLogger(__name__)

# The connection is lost or unusable: the file's transaction is gone with it. Any other database
# error is a statement the database refused: a row's own fault once the rows go one at a time.
TRANSIENT = (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout)


class ImportStopped(SheetError):
    """The import stopped part-way (database lost, interrupted, file unreadable): its
    transaction was rolled back and nothing was written."""


def open_database(settings, service):
    """The service's database, migrated first so that an import works on a fresh hub."""
    try:
        migrate(settings, service)
        return Database(settings, service, min_size=1, max_size=1,
                        dsn=settings.database_dsn(service))     # an operator's command: admin
    except (psycopg.Error, PoolTimeout) as exc:
        raise ImportStopped(_("Cannot reach the {service} database {database} ({error}): is "
                              "PostgreSQL running (`make services`)? Nothing was imported.",
                              service=service, database=settings.database_name(service),
                              error=type(exc).__name__))


def write_all(importer, settings, db, rows, summary, actor, bar, options=None):
    """Write the chunks of `rows` (CheckedRows) in one transaction, counting into `summary`,
    then the importer's `finish`; ImportStopped, with nothing written, if it cannot be done to
    the end."""
    lines, committing = "", False
    try:
        with db.transaction() as tx:
            chunks = ChunkWriter(importer, settings, tx, rows.headers, actor)
            for count, read, valid, rejected in rows:
                lines = _("lines {first}-{last}", first=valid[0][0],
                          last=valid[-1][0]) if valid else lines
                imported, refused = chunks.write(valid)
                summary.rows_read += read
                summary.imported += imported
                summary.rejected_rows += rejected + refused
                bar.update(count)
            summary.changes.update(chunks.changes)
            lines = _("the end of the file")
            summary.notes += importer.finish(tx, settings, chunks.written, summary, actor,
                                             options or {})
            committing = True
    except (psycopg.Error, PoolTimeout) as exc:     # a row's own errors are rejections by now
        if committing and isinstance(exc, TRANSIENT):
            raise ImportStopped(_(
                "The connection to the database broke while committing the import ({error}): "
                "it is either wholly imported or not at all. Run it again once the database is "
                "back: if it went in, every row is then reported as already registered.",
                error=type(exc).__name__)) from exc
        where = _("the commit") if committing else lines or _("the first rows")
        raise ImportStopped(_("The database failed on {where} ({error}): nothing was imported. "
                              "Run the import again once the database is back.", where=where,
                              error=type(exc).__name__)) from exc
    except KeyboardInterrupt:
        raise ImportStopped(_("Interrupted: nothing was imported.")) from None
    except SheetError as exc:       # the reader found the file unreadable part-way
        raise ImportStopped(f"{exc} Nothing was imported.") from exc
    summary.rejected_rows.sort(key=lambda row: row.line)


class ChunkWriter:
    """Checked rows -> the import's use case, a chunk at a time, inside the file's transaction."""

    def __init__(self, importer, settings, tx, headers, actor):
        self.importer = importer
        self.settings = settings
        self.tx = tx
        self.headers = headers
        self.actor = actor
        self.written = []           # the ids of the records written, for the importer's finish
        self.changes = Counter()    # what the use case did to each record, when it says so

    def write(self, valid):
        """(rows written, rejected rows) of a chunk of valid (line, body) pairs.

        The chunk goes in one call of the importer's `write`, in a savepoint. If the database
        refuses a statement there, the savepoint is rolled back and the rows go one at a time,
        each in a savepoint of its own, so only the row at fault is rejected.
        """
        if not valid:
            return 0, []
        bodies = [body for _, body in valid]
        try:
            outcomes = self.in_savepoint(bodies)
        except psycopg.Error as exc:
            if isinstance(exc, TRANSIENT):
                raise
            log.warning("lines %d-%d: the database refused a statement (%s); writing them one "
                        "at a time", valid[0][0], valid[-1][0], type(exc).__name__)
            outcomes = [self.alone(body) for body in bodies]
        written, rejected = [], []
        for (line, _), outcome in zip(valid, outcomes, strict=True):
            if isinstance(outcome, HubError):
                outcome = refusal_problems(outcome, self.importer.columns, self.headers)
            if isinstance(outcome, list):
                rejected.append(RejectedRow(line, tuple(outcome)))
            else:
                written.append(str(outcome["id"]))
                if outcome.get("change"):
                    self.changes[outcome["change"]] += 1
        if self.importer.audit_action and written:
            audit.append(self.tx, [audit.operator_entry(
                self.importer.audit_action, f"import/{self.actor}",
                {"lines": f"{valid[0][0]}-{valid[-1][0]}", self.importer.kind: written})])
        self.written += written
        return len(written), rejected

    def in_savepoint(self, bodies):
        with self.tx.savepoint():
            outcomes = self.importer.write(self.tx, self.settings, bodies, self.actor)
            self.tx.flush_events()          # the chunk's events, rolled back with it
        return outcomes

    def alone(self, body):
        """One row's outcome; [Problem] when the database refuses it."""
        try:
            return self.in_savepoint([body])[0]
        except psycopg.Error as exc:
            if isinstance(exc, TRANSIENT):
                raise
            # never the error's text: its detail may quote the row's values
            return [Problem("", _("the database refused the row ({error}, SQLSTATE {sqlstate})",
                                  error=type(exc).__name__, sqlstate=exc.sqlstate or "?"))]


def one_at_a_time(register, tx, settings, bodies, actor):
    """An importer's `write` from a use case that registers one record: each row in a savepoint
    of its own, so a row it refuses leaves nothing behind whatever it wrote first."""
    outcomes = []
    for body in bodies:
        try:
            with tx.savepoint():
                outcomes.append(register(tx, settings, body, actor))
        except HubError as refused:
            outcomes.append(refused)
    return outcomes

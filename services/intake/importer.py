"""Bulk import of a county's existing client spreadsheet (CSV or XLSX) into the registry.

Each row is turned into the body of `POST /clients` (Chinese or English column headers; Chinese
names of categories, risk levels and disability types accepted) and goes through the API's own
checks: ClientCreateSchema (in a reader process, overlapping the writing), then clients.register
in this process. Rows commit CHUNK_ROWS at a time, and a row is registered fully (client, history,
outbox event) or not at all: see Writer.commit. Rejected rows are reported by line number, field
and reason only: never a name or an ID number.
"""
import logging
import multiprocessing
import re
import sys
import time
import traceback
from contextlib import nullcontext
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import click
import psycopg
from marshmallow import ValidationError
from psycopg_pool import PoolTimeout
from tqdm import tqdm

from hub import audit, sheets
from hub.db import Database
from hub.errors import Conflict, HubError
from hub.migrate import migrate
from hub.sheets import IGNORED, SheetError, blank, header_key, text, to_date
from intake import clients, domain, idnumber
from intake.schemas import ClientCreateSchema

log = logging.getLogger(__name__)

CHUNK_ROWS = 1000
CHUNK_ATTEMPTS = 3
FAST, SAVEPOINTS, ROW_BY_ROW = "fast", "savepoints", "row by row"   # how a chunk is written
# Connection-level failures: the chunk is rolled back and tried again. Any other database error,
# once the chunk is done row by row, is the row's own: the row is rejected.
TRANSIENT = (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout)


class ImportFileError(click.ClickException):
    """The file cannot be imported (unreadable, bad headers, database unreachable)."""


class _RowRejected(Exception):
    """clients.register rejected a row of a chunk written without savepoints."""


# -- the spreadsheet's words -> the API's words ----------------------------------------------------

CATEGORY_WORDS = {
    **{code: code for code in domain.CATEGORIES},
    **{zh: code for code, (zh, _, _) in domain.CATEGORIES.items()},
    "孤寡老人": "solitary_elderly", "独居老人": "solitary_elderly",
    "孤儿": "unsupported_child", "事实无人抚养儿童": "unsupported_child",
    "残疾": "disabled", "特困": "extreme_poverty", "特困供养人员": "extreme_poverty",
    "低保": "minimum_living_allowance", "低保户": "minimum_living_allowance",
}
RISK_LEVEL_WORDS = {"低": "low", "中": "medium", "高": "high", "危急": "critical",
                    "低风险": "low", "中风险": "medium", "高风险": "high", "极高": "critical"}
RISK_FLAG_WORDS = {
    "自伤": "self_harm", "自残": "self_harm", "自伤史": "self_harm", "独居": "lives_alone",
    "无监护人": "no_guardian", "家庭精神疾病": "family_mental_illness",
    "家庭成员精神疾病": "family_mental_illness", "慢性病": "chronic_illness",
    "家庭暴力": "domestic_violence", "家暴": "domestic_violence", "无收入": "no_income",
    "失智": "dementia", "认知障碍": "dementia", "老年痴呆": "dementia",
}
DISABILITY_WORDS = {"视力": "visual", "听力": "hearing", "言语": "speech", "肢体": "physical",
                    "智力": "intellectual", "精神": "mental", "多重": "multiple"}
YES_NO = {"是": True, "否": False, "同意": True, "不同意": False, "已同意": True, "未同意": False,
          "y": True, "n": False, "有": True, "无": False}
LIST_SEPARATORS = re.compile(r"[、，,;；\s]+")
GRADE_WORDS = {"一": "1", "二": "2", "三": "3", "四": "4"}


def _words(table):
    def convert(value):
        return table.get(value, table.get(value.lower(), value.lower()))
    return convert


def _word_list(table):
    def convert(value):
        return [table.get(w, table.get(w.lower(), w)) for w in LIST_SEPARATORS.split(value) if w]
    return convert


def _disability_type(value):
    stem = value[:-2] if value.endswith("残疾") else value
    return DISABILITY_WORDS.get(stem, value.lower())


def _grade(value):
    value = value.removesuffix("级").strip()
    return GRADE_WORDS.get(value, value)


def _yes_no(value):
    return YES_NO.get(value.lower(), value)


@dataclass(frozen=True)
class Column:
    """A column of the client sheet (hub.sheets matches headers by its key and names)."""
    key: str                 # the English header
    path: tuple              # where the value goes in the API body
    names: tuple             # the Chinese headers accepted
    convert: object = text   # cell text -> API value


COLUMNS = (
    Column("name", ("name",), ("姓名",)),
    Column("id_number", ("id_number",), ("身份证号", "身份证号码", "公民身份号码")),
    Column("phone", ("phone",), ("联系电话", "电话", "手机", "手机号", "手机号码")),
    Column("village_code", ("village_code",), ("村(社区)代码", "村代码", "社区代码")),
    Column("categories", ("categories",), ("类别", "对象类别"), _word_list(CATEGORY_WORDS)),
    Column("risk_level", ("risk_level",), ("风险等级",), _words(RISK_LEVEL_WORDS)),
    Column("risk_flags", ("risk_flags",), ("风险标记",), _word_list(RISK_FLAG_WORDS)),
    Column("disability_type", ("disability", "type"), ("残疾类别",), _disability_type),
    Column("disability_grade", ("disability", "grade"), ("残疾等级",), _grade),
    Column("guardian_name", ("guardian", "name"), ("监护人姓名", "监护人")),
    Column("guardian_phone", ("guardian", "phone"), ("监护人电话", "监护人联系电话")),
    Column("guardian_relation", ("guardian", "relation"), ("监护人关系", "与监护人关系")),
    Column("consent_given", ("consent", "given"), ("知情同意", "是否同意"), _yes_no),
    Column("consent_date", ("consent", "date"), ("同意日期",), to_date),
    Column("recorded_by", ("consent", "recorded_by"), ("登记人",)),
    Column("effective_date", ("effective_date",), ("登记日期",), to_date),
)


def _required(schema, path):
    """Whether the API requires the field at `path` (each level of it required)."""
    for part in path:
        f = schema.fields[part]
        if not f.required:
            return False
        schema = getattr(f, "schema", None)
    return True


REQUIRED = tuple(c.key for c in COLUMNS if _required(ClientCreateSchema(), c.path))


# -- the outcome -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    field: str            # the API's name, e.g. "consent.date"
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


class ImportSummary(sheets.ImportSummary):
    """What an import did; `rejected` holds RejectedRows."""

    def report_rows(self):
        return [(row.line, p.label, p.message) for row in self.rejected for p in row.problems]

    def describe(self, limit=20):
        rate = f", {self.rows_read / self.seconds:,.0f} rows/s" if self.seconds else ""
        lines = [self.headline() + rate]
        lines += [r.describe() for r in self.rejected[:limit]]
        more = len(self.rejected) - limit
        if more > 0:
            lines.append(f"... and {more} more rejected row(s)"
                         + (f"; all are in {self.report_path}" if self.report_path
                            else "; use --report FILE to list them all"))
        elif self.rejected and self.report_path:
            lines.append(f"rejected rows written to {self.report_path}")
        return "\n".join(lines)


# -- checking rows, in a process of its own --------------------------------------------------------

def field_problems(messages, headers):
    """Field messages (marshmallow's or a HubError's) as Problems naming the file's columns."""
    out = []
    for path, message in sheets.flatten(messages):
        column = next((c for c in COLUMNS if c.path == path), None)
        out.append(Problem(".".join(path), message, headers.get(column.key) if column else None))
    return out


class Checker:
    """Rows -> API bodies loaded by ClientCreateSchema, or the problems that stop them."""

    def __init__(self, columns, headers, data_key):
        self.columns = columns
        self.headers = headers          # column key -> header as written in the file
        self.schema = ClientCreateSchema()
        self.cipher = clients.cipher(data_key)
        self.first_line = {}            # lookup hash of each valid row's ID number -> its line

    def check(self, chunk):
        """(rows read, valid (line, body) pairs, rejected rows) of a chunk of (line, cells)."""
        read, valid, rejected = 0, [], []
        for line, cells in chunk:
            if blank(cells):
                continue
            read += 1
            body, problems = self.prepare(cells)
            if not problems:
                lookup = self.cipher.lookup_hash(idnumber.parse(body["id_number"]).number)
                earlier = self.first_line.setdefault(lookup, line)
                if earlier != line:
                    problems = [Problem("id_number", f"repeats the ID number of line {earlier}",
                                        self.headers.get("id_number"))]
            if problems:
                rejected.append(RejectedRow(line, tuple(problems)))
            else:
                valid.append((line, body))
        return read, valid, rejected

    def prepare(self, cells):
        """The row as a loaded API body, or the problems that stop it."""
        body, problems = {}, []
        for index, cell in enumerate(cells):
            column = self.columns[index] if index < len(self.columns) else None
            if column is IGNORED:
                continue
            if column is None:
                if not blank([cell]):
                    problems.append(Problem("", f"a value in column {index + 1}, which has no "
                                                "header"))
                continue
            value = self.cell_value(column, cell, problems)
            if value is not None:
                target = body
                for part in column.path[:-1]:
                    target = target.setdefault(part, {})
                target[column.path[-1]] = value
        if problems:
            return None, problems
        try:
            return self.schema.load(body), []
        except ValidationError as exc:
            return None, field_problems(exc.messages, self.headers)

    def cell_value(self, column, cell, problems):
        if isinstance(cell, bool):
            return cell
        if isinstance(cell, float) and column.key == "id_number":
            problems.append(Problem("id_number", "stored as a number, which loses digits: format "
                                    "the column as text and enter the ID numbers again",
                                    self.headers.get("id_number")))
            return None
        return sheets.cell_value(cell, column.convert)


def check_file(path, data_key, chunk_rows, out):
    """The reading process: read and check the file, sending to `out` ("header", headers,
    total), then ("chunk", lines, rows read, valid, rejected) per chunk, then ("end",); or
    ("error", message) or ("crash", traceback) and stop."""
    try:
        with sheets.open_sheet(path, COLUMNS, REQUIRED) as sheet:
            out.send(("header", sheet.headers, sheet.total))
            checker = Checker(sheet.columns, sheet.headers, data_key)
            while chunk := list(islice(sheet.lines, chunk_rows)):
                out.send(("chunk", len(chunk), *checker.check(chunk)))
            out.send(("end",))
    except SheetError as exc:
        out.send(("error", str(exc)))
    except OSError as exc:
        if not isinstance(exc, BrokenPipeError):        # else the importing process stopped
            out.send(("error", f"Cannot read {Path(path).name}: {exc.strerror or exc}."))
    except KeyboardInterrupt:
        pass
    except Exception:
        out.send(("crash", traceback.format_exc()))
    finally:
        out.close()


class CheckedRows:
    """The file read and checked by a process of its own while this one writes the database:
    checking (XLSX above all) costs as much as writing, and the two overlap this way."""

    def __init__(self, path, data_key, chunk_rows):
        self.args = (str(path), data_key, chunk_rows)

    def __enter__(self):
        context = multiprocessing.get_context("spawn")
        self.inbox, out = context.Pipe(duplex=False)
        self.process = context.Process(target=check_file, args=(*self.args, out), daemon=True,
                                       name="import-reader")
        self.process.start()
        out.close()
        try:
            _, self.headers, self.total = self.receive()
        except BaseException:
            self.__exit__()
            raise
        return self

    def receive(self):
        try:
            message = self.inbox.recv()
        except EOFError:
            raise ImportFileError("The process reading the file stopped unexpectedly.")
        if message[0] == "error":
            raise ImportFileError(message[1])
        if message[0] == "crash":
            raise RuntimeError("reading the file failed in the reader process:\n" + message[1])
        return message

    def __iter__(self):
        """(lines, rows read, valid (line, body) pairs, rejected rows) of each chunk."""
        while (message := self.receive())[0] != "end":
            yield message[1:]

    def __exit__(self, *exc):
        self.inbox.close()
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.terminate()


# -- writing rows ----------------------------------------------------------------------------------

class Writer:
    """Checked rows -> registered clients through clients.register, a transaction a chunk."""

    def __init__(self, settings, db, headers, actor):
        self.settings = settings
        self.db = db
        self.headers = headers
        self.actor = actor
        self.rejecting = False          # whether the last chunk had rows register rejected

    def commit(self, valid):
        """Register the chunk's valid rows in one transaction; (rows imported, rejected rows).

        A chunk is first sent pipelined without savepoints, which cost a fifth of the time; if
        clients.register rejects a row there, the chunk is rolled back and done again with a
        savepoint around each row, so a rejected row leaves nothing behind. If the database
        refuses a statement, the chunk is rolled back and done row by row, unpipelined, so only
        the row at fault is rejected. If the connection fails, the chunk is rolled back and
        tried again a few times before the import stops.
        """
        if not valid:
            return 0, []
        mode, failures = (SAVEPOINTS if self.rejecting else FAST), 0
        while True:
            span = f"lines {valid[0][0]}-{valid[-1][0]}"
            try:
                imported, rejected = self.register_chunk(valid, mode)
                self.rejecting = bool(rejected)
                return imported, rejected
            except _RowRejected:
                mode = SAVEPOINTS
            except (psycopg.Error, PoolTimeout) as exc:
                if mode != ROW_BY_ROW:
                    log.warning("%s: the database refused the chunk (%s); rolled back, doing it "
                                "again row by row", span, type(exc).__name__)
                    mode = ROW_BY_ROW
                    continue
                failures += 1
                if failures == CHUNK_ATTEMPTS:
                    raise ImportFileError(
                        f"The database failed {failures} times on {span} ({type(exc).__name__}) "
                        "and the import stopped there; the rows before them are imported. Run "
                        "the import again once the database is back: the rows already imported "
                        "are then reported as already registered, the others go in.") from exc
                log.warning("%s: database connection failed (%s); chunk rolled back, retrying",
                            span, type(exc).__name__)
                time.sleep(failures)

    def register_chunk(self, valid, mode):
        rejected, self.registered = [], []
        with self.db.transaction() as tx:
            with nullcontext() if mode == ROW_BY_ROW else tx.conn.pipeline():
                for line, body in valid:
                    problems = self.register_row(tx, body, mode)
                    if problems:
                        rejected.append(RejectedRow(line, tuple(problems)))
            audit.append(tx, [audit.operator_entry(
                "client.import", f"import/{self.actor}",
                {"lines": f"{valid[0][0]}-{valid[-1][0]}", "clients": self.registered})])
        return len(valid) - len(rejected), rejected

    def register_row(self, tx, body, mode):
        """Register one row; its problems, or [] when it went in."""
        if mode == FAST:
            try:
                row = clients.register(tx, self.settings, body, self.actor)
            except HubError:
                raise _RowRejected()    # whatever the row did is rolled back with the chunk
            self.registered.append(str(row["id"]))
            return []
        try:
            with tx.savepoint():
                row = clients.register(tx, self.settings, body, self.actor)
        except (HubError, psycopg.Error) as exc:
            row_error = isinstance(exc, HubError) or (mode == ROW_BY_ROW
                                                      and not isinstance(exc, TRANSIENT))
            if not row_error:
                raise
            return self.rejection(exc)
        self.registered.append(str(row["id"]))
        return []

    def rejection(self, exc):
        column = self.headers.get("id_number")
        if isinstance(exc, Conflict) and exc.extra.get("existing_client_id"):
            return [Problem("id_number", "already registered in this county (client "
                                         f"{exc.extra['existing_client_id']})", column)]
        if isinstance(exc, HubError):
            return field_problems(exc.fields, self.headers) or [Problem("", exc.message)]
        # never the error's text: its detail may quote the row's values
        return [Problem("", f"the database refused the row ({type(exc).__name__}, "
                            f"SQLSTATE {exc.sqlstate or '?'})")]


def open_database(settings):
    """intake's database, migrated first so that an import works on a fresh hub."""
    try:
        migrate(settings, "intake")
        return Database(settings, "intake", min_size=1, max_size=1,
                        dsn=settings.database_dsn("intake"))   # an operator's command: admin
    except (psycopg.Error, PoolTimeout) as exc:
        raise ImportFileError(f"Cannot reach the intake database "
                              f"{settings.database_name('intake')} ({type(exc).__name__}): "
                              "is PostgreSQL running (`make services`)?")


def import_file(settings, path, *, report_path=None, progress=False, actor=None,
                chunk_rows=CHUNK_ROWS):
    """Import a CSV or XLSX file of clients; returns an ImportSummary.

    Raises ImportFileError (before anything is written) when the file or its headers cannot be
    used, and when the database fails for good part-way (chunks committed until then stay).
    """
    started = time.perf_counter()
    summary = ImportSummary(str(path))
    with CheckedRows(path, settings.data_key, chunk_rows) as rows:
        db = open_database(settings)
        writer = Writer(settings, db, rows.headers, actor or f"import:{Path(path).name}")
        try:
            with tqdm(total=rows.total, unit="row", desc="importing", file=sys.stderr,
                      disable=not progress, dynamic_ncols=True) as bar:
                for lines, read, valid, rejected in rows:
                    imported, refused = writer.commit(valid)
                    summary.rows_read += read
                    summary.imported += imported
                    summary.rejected += rejected + refused
                    bar.update(lines)
        except KeyboardInterrupt:
            raise ImportFileError(f"Interrupted after {summary.imported} row(s) were imported; the "
                                  "chunk in progress was rolled back. Running the import again "
                                  "reports those rows as already registered and imports the rest.")
        finally:
            db.close()
    summary.rejected.sort(key=lambda r: r.line)
    summary.seconds = time.perf_counter() - started
    if report_path:
        summary.write_report(report_path)
    log.info("import of %s: %d read, %d imported, %d rejected in %.1fs", Path(path).name,
             summary.rows_read, summary.imported, len(summary.rejected), summary.seconds)
    return summary

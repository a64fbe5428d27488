"""Rows -> API bodies checked by the API's own schema, in a process of its own.

Checking a row (XLSX above all) costs about as much as writing it, so a reader process reads and
checks the file while the importing process writes: CheckedRows starts it and hands over its
chunks. A row is rejected here when a cell has no header, a number stands where digits matter,
the schema refuses it, or it repeats an earlier row's value of a field that must be unique.
"""
import multiprocessing
import traceback
from itertools import islice
from pathlib import Path

from marshmallow import ValidationError

from hub.i18n import _
from hub.sheets.cells import blank, cell_value
from hub.sheets.outcome import Problem, RejectedRow, field_problems
from hub.sheets.reading import IGNORED, SheetError, open_sheet


class Checker:
    """A sheet's rows -> the API bodies its import's schema loads, or the rows' problems."""

    def __init__(self, importer, settings, sheet):
        self.importer = importer
        self.settings = settings
        self.columns = sheet.columns      # per cell: Column, IGNORED or None
        self.headers = sheet.headers      # column key -> header as written
        self.schema = importer.schema()
        self.seen = {name: {} for name in importer.unique}   # field -> {key: first line}

    def check(self, chunk):
        """(rows read, valid (line, body) pairs, rejected rows) of a chunk of (line, cells)."""
        read, valid, rejected = 0, [], []
        for line, cells in chunk:
            if blank(cells):
                continue
            read += 1
            body, problems = self.load(cells)
            if not problems:
                problems = self.repeats(line, body)
            if problems:
                rejected.append(RejectedRow(line, tuple(problems)))
            else:
                valid.append((line, body))
        return read, valid, rejected

    def load(self, cells):
        """The row as an API body loaded by the schema, or the problems that stop it."""
        body, problems = {}, []
        for index, cell in enumerate(cells):
            column = self.columns[index] if index < len(self.columns) else None
            if column is IGNORED:
                continue
            if column is None:
                if not blank([cell]):
                    problems.append(Problem("", _("a value in column {number}, which has no "
                                                  "header", number=index + 1)))
                continue
            if column.exact_text and isinstance(cell, (int, float)) and not isinstance(cell, bool):
                problems.append(Problem(column.key, _("stored as a number, which loses digits: "
                                          "format the column as text and enter the values "
                                          "again"),
                                        self.headers.get(column.key)))
                continue
            value = cell if isinstance(cell, bool) else cell_value(cell, column.convert)
            if value is not None:
                target = body
                for part in column.path[:-1]:
                    target = target.setdefault(part, {})
                target[column.path[-1]] = value
        if problems:
            return None, problems
        try:
            return self.schema.load(self.importer.refine(self.settings, body)), []
        except ValidationError as exc:
            return None, field_problems(exc.messages, self.importer.columns, self.headers)

    def repeats(self, line, body):
        """A problem for each unique field whose value an earlier row of the file had."""
        problems = []
        for name, key_of in self.importer.unique.items():
            if body.get(name) is None:
                continue
            earlier = self.seen[name].setdefault(key_of(body[name]), line)
            if earlier != line:
                problems.append(Problem(name, _("the same as line {line}", line=earlier),
                                        self.headers.get(name)))
        return problems


def check_file(importer, settings, path, chunk_rows, out):
    """The reader process: read and check the file, sending to `out` ("header", headers,
    total), then ("chunk", lines, rows read, valid, rejected) per chunk, then ("end",); or
    ("error", message) or ("crash", where) and stop."""
    try:
        with open_sheet(path, importer.columns, importer.required()) as sheet:
            out.send(("header", sheet.headers, sheet.total))
            checker = Checker(importer, settings, sheet)
            while chunk := list(islice(sheet.lines, chunk_rows)):
                out.send(("chunk", len(chunk), *checker.check(chunk)))
            out.send(("end",))
    except SheetError as exc:
        out.send(("error", exc.args[0] if exc.args else str(exc)))     # a Message: pickled
    except OSError as exc:
        if not isinstance(exc, BrokenPipeError):        # else the importing process stopped
            out.send(("error", _("Cannot read {file}: {error}.", file=Path(path).name,
                                 error=exc.strerror or exc)))
    except KeyboardInterrupt:
        pass
    except Exception as exc:
        # where it failed, not the exception's text: that may quote a cell of the row
        where = "".join(traceback.format_tb(exc.__traceback__))
        out.send(("crash", f"{where}{type(exc).__name__}"))
    finally:
        out.close()


class CheckedRows:
    """The file read and checked by a process of its own, chunk by chunk: `headers` and `total`
    once it is open (SheetError if it cannot be), then iterate for the chunks."""

    def __init__(self, importer, settings, path, chunk_rows):
        self.args = (importer, settings, str(path), chunk_rows)

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
            raise SheetError(_("The process reading the file stopped unexpectedly."))
        if message[0] == "error":
            raise SheetError(message[1])
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

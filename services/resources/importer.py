"""Bulk import of a county's spreadsheets of social workers or volunteers (CSV or XLSX).

Each row becomes the body of `POST /workers` or `POST /volunteers` (Chinese or English headers,
Chinese certificate levels and township names accepted) and goes through the API's own checks
and use case, so it gets the same validation, encryption and events. Rows commit in chunks,
each row in a savepoint: a rejected row changes nothing. Rejections name the line, the field
and the reason, never the row's values.
"""
import time
from contextlib import closing
from itertools import islice
from pathlib import Path

from marshmallow import ValidationError

from hub.db import Database
from hub.errors import HubError
from hub.migrate import migrate
from resources import schemas, sheets, volunteers, workers
from resources.sheets import Column, to_date, to_int

CHUNK_ROWS = 500
LEVEL_WORDS = {"助理社会工作师": "assistant", "助理社工师": "assistant", "助理": "assistant",
               "初级": "assistant", "社会工作师": "intermediate", "社工师": "intermediate",
               "中级": "intermediate", "高级社会工作师": "senior", "高级社工师": "senior",
               "高级": "senior"}
NONE_WORDS = frozenset({"无", "未持证", "none", "-"})


def certificate_level(value):
    if value.lower() in NONE_WORDS:
        return None
    return LEVEL_WORDS.get(value, value.lower())


TOWNSHIP = Column("township_code", ("乡镇代码", "乡镇", "所属乡镇", "站点", "乡镇社工站"))
KINDS = {
    "workers": (
        (Column("name", ("姓名",)), Column("staff_code", ("工号", "人员编号")), TOWNSHIP,
         Column("certificate_level", ("证书等级", "持证等级", "职业资格"), certificate_level),
         Column("certified_year", ("取证年份", "发证年份", "取得年份"), to_int),
         Column("weekly_capacity", ("每周走访能力", "每周走访量", "周走访量"), to_int),
         Column("effective_date", ("入职日期", "加入日期"), to_date)),
        schemas.WorkerCreateSchema, workers.register, "existing_worker_id"),
    "volunteers": (
        (Column("name", ("姓名",)),
         Column("id_number", ("身份证号", "身份证号码", "公民身份号码"), exact_text=True),
         Column("phone", ("联系电话", "电话", "手机", "手机号")), TOWNSHIP,
         Column("registered_on", ("注册日期", "登记日期"), to_date)),
        schemas.VolunteerCreateSchema, volunteers.register, "existing_volunteer_id"),
}


def township_code(county, value):
    """A township given by its name (尧渡镇) -> its code; codes and unknown names as they are."""
    by_name = {t.name: code for code, t in county.townships.items()}
    return by_name.get(value, value)


def import_file(settings, kind, path, *, report_path=None, actor=None, chunk_rows=CHUNK_ROWS):
    """Import a CSV or XLSX file of `kind` (workers or volunteers); returns an ImportSummary.

    Raises sheets.SheetError, before anything is written, when the file or its headers cannot
    be used.
    """
    columns, schema_cls, _, _ = KINDS[kind]
    started = time.perf_counter()
    schema = schema_cls()
    required = [n for n, f in schema.fields.items() if f.required]
    summary = sheets.ImportSummary(str(path))
    actor = actor or f"import:{Path(path).name}"
    with closing(sheets.read(path, columns, required)) as table:
        migrate(settings, "resources")
        db = Database(settings, "resources", min_size=1, max_size=2,
                      dsn=settings.database_dsn("resources"))   # an operator's command: admin
        try:
            while chunk := list(islice(table.records, chunk_rows)):
                with db.transaction() as tx:
                    for line, values, problems in chunk:
                        summary.rows_read += 1
                        problems = _import_row(tx, settings, kind, schema, values, problems,
                                               actor)
                        if problems:
                            summary.reject(line, problems)
                        else:
                            summary.imported += 1
        finally:
            db.close()
    summary.seconds = time.perf_counter() - started
    if report_path:
        summary.write_report(report_path)
    return summary


def _import_row(tx, settings, kind, schema, values, problems, actor):
    """Check a record read with `problems` and register it; its problems, or [] when it went in."""
    if "township_code" in values:
        values["township_code"] = township_code(settings.county, values["township_code"])
    try:
        body = schema.load(values) if not problems else None
    except ValidationError as exc:
        problems = sheets.flatten(exc.messages)
    if problems:
        return problems
    _, _, register, existing_key = KINDS[kind]
    return _register_row(tx, settings, register, body, actor, existing_key)


def _register_row(tx, settings, register, body, actor, existing_key):
    """Register one row inside a savepoint; its problems, or [] when it went in."""
    try:
        with tx.savepoint():
            register(tx, settings, body, actor)
    except HubError as exc:
        if existing_key in exc.extra:
            return [(f, f"already registered ({exc.extra[existing_key]})") for f in exc.fields]
        return sheets.flatten(exc.fields) or [("", exc.message)]
    return []

"""hub.sheets without a database: cells, encodings, headers, checking rows, the summary."""
import csv
import io

import pytest
from marshmallow import Schema, fields, validate

from hub.errors import Conflict
from hub.i18n import _, negotiate, translate
from hub.sheets import (
    Column,
    Importer,
    ImportSummary,
    Problem,
    RejectedRow,
    SheetError,
    header_key,
    to_date,
    to_int,
    word_list,
    words,
    yes_no,
)
from hub.sheets.checking import Checker
from hub.sheets.outcome import REPORT_LOCALE, refusal_problems
from hub.sheets.reading import decode, open_sheet


class PersonSchema(Schema):
    name = fields.String(required=True)
    age = fields.Integer(strict=True, required=True, validate=validate.Range(0, 130))
    code = fields.String(load_default=None)
    home = fields.Nested(Schema.from_dict({"town": fields.String(required=True)}),
                         load_default=None)


class People(Importer):
    """A toy import: its schema, columns with a nested path, a unique field."""
    kind, service, schema = "people", "none", PersonSchema
    columns = (Column("name", ("姓名",)), Column("age", ("年龄",), to_int),
               Column("code", ("编号",), exact_text=True),
               Column("town", ("乡镇",), path=("home", "town")))
    unique = {"code": str.upper}

    def refine(self, settings, body):
        if body.get("name") == "改名":
            body["name"] = "renamed"
        return body


def write_csv(path, rows, encoding="utf-8"):
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def check(path, importer=People(), chunk=100):
    with open_sheet(path, importer.columns, importer.required()) as sheet:
        return Checker(importer, None, sheet).check(list(sheet.lines)[:chunk])


def test_cell_conversions():
    assert to_date("2024年1月5日") == to_date("20240105") == to_date("2024/1/5") == "2024-01-05"
    assert to_date("soon") == "soon" and to_int("12") == 12 and to_int("十") == "十"
    assert yes_no("是") is True and yes_no("N") is False and yes_no("maybe") == "maybe"
    assert words({"高": "high"})("高") == "high" and words({})("Low") == "low"
    assert word_list({"甲": "a"})("甲、b，C") == ["a", "b", "C"]
    assert header_key(" ＊姓名 ") == "姓名" and header_key("Weekly Capacity*") == "weekly_capacity"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "gb18030", "gbk"])
def test_the_encodings_chinese_excel_saves(encoding):
    assert decode("姓名,年龄\n欧阳秀英,80\n".encode(encoding)) == "姓名,年龄\n欧阳秀英,80\n"


def test_bytes_that_are_no_text_are_refused():
    with pytest.raises(SheetError, match="neither UTF-8 nor GB18030"):
        decode(b"\xff\xfe\xfa"[1:] + b"\x80\x80\xff")


def test_headers_in_chinese_or_english_any_width_and_a_running_number(tmp_path):
    path = write_csv(tmp_path / "p.tsv", [[], ["序号", "姓名*", "ＡＧＥ", "乡镇"]],
                     encoding="gb18030")
    path.write_text(path.read_text(encoding="gb18030").replace(",", "\t"), encoding="gb18030")
    with open_sheet(path, People.columns, People().required()) as sheet:
        assert sheet.header_line == 2
        assert sheet.headers == {"name": "姓名*", "age": "ＡＧＥ", "town": "乡镇"}


@pytest.mark.parametrize("header, message", [
    (["姓名", "年龄", "鞋码"], r"Unknown column header\(s\) '鞋码' in line 1.*known columns: "
                             r"姓名/name, 年龄/age, 编号/code, 乡镇/town"),
    (["姓名"], r"Required column\(s\) missing: 年龄/age \(headers are in line 1\)"),
    (["姓名", "年龄", "Name"], "Columns '姓名' and 'Name' .* both mean name"),
])
def test_bad_headers_are_named(tmp_path, header, message):
    with pytest.raises(SheetError, match=message):
        check(write_csv(tmp_path / "p.csv", [header]))


def test_other_files_are_refused_with_what_to_do(tmp_path):
    with pytest.raises(SheetError, match="'Save as' .xlsx"):
        check(write_csv(tmp_path / "p.xls", [["姓名"]]))
    with pytest.raises(SheetError, match="no header row"):
        check(write_csv(tmp_path / "p.csv", [[], []]))


def test_rows_become_bodies_or_problems_naming_line_and_column(tmp_path):
    path = write_csv(tmp_path / "p.csv", [
        ["姓名", "年龄", "编号", "乡镇"],
        ["甲", "70", "a1", "东流镇"],           # line 2: nested path
        ["乙", "old", "", ""],                 # line 3: the schema refuses the age
        [],                                    # line 4: blank, not a row
        ["丙", "9", "A1", ""],                 # line 5: repeats line 2's code
        ["改名", "9", "", "", "多余"],          # line 6: a value without a header
        ["改名", "9"],                          # line 7: refined
    ])
    read, valid, rejected = check(path)
    assert read == 5
    assert valid == [(2, {"name": "甲", "age": 70, "code": "a1", "home": {"town": "东流镇"}}),
                     (7, {"name": "renamed", "age": 9, "code": None, "home": None})]
    assert [row.describe("en") for row in rejected] == [
        "line 3: 年龄 (age): Not a valid integer.",
        "line 5: 编号 (code): the same as line 2",
        "line 6: row: a value in column 5, which has no header"]
    assert [row.describe() for row in rejected] == [       # Chinese unless English is asked for
        "第 3 行：年龄 (age)：不是有效的整数。",
        "第 5 行：编号 (code)：与第 2 行重复",
        "第 6 行：整行：第 5 列有内容，但该列没有表头"]


def test_numbers_are_refused_where_digits_matter():
    sheet = type("Sheet", (), {"columns": list(People.columns), "headers": {"code": "编号"}})
    checker = Checker(People(), None, sheet)
    assert checker.load(["甲", 70, 341721199001011234.0, None])[1] == [Problem(
        "code", "stored as a number, which loses digits: format the column as text and enter "
        "the values again", "编号")]
    assert checker.load(["甲", 70.0, "007", None]) == (
        {"name": "甲", "age": 70, "code": "007", "home": None}, [])


def test_a_refusal_names_the_record_already_there():
    refused = Conflict("exists", fields={"code": ["already registered"]},
                       existing_person_id="42")
    assert refusal_problems(refused, People.columns, {"code": "编号"}) == [
        Problem("code", "already registered (person 42)", "编号")]


def test_the_summary_and_report_carry_line_field_and_reason_only(tmp_path):
    summary = ImportSummary("/somewhere/人员.csv", rows_read=30, imported=5, seconds=2.0,
                            locale="en")
    summary.rejected_rows = [RejectedRow(n, (Problem("age", "Not a valid integer.", "年龄"),))
                             for n in range(2, 27)]
    assert summary.rejected == 25
    text = summary.describe()
    assert text.splitlines()[0] == ("人员.csv: 30 row(s) read, 5 imported, 25 rejected in 2.0s, "
                                    "15 rows/s")
    assert "line 2: 年龄 (age): Not a valid integer." in text
    assert text.endswith("... and 5 more rejected row(s); use --report FILE to list them all")
    summary.write_report(tmp_path / "r.csv")
    rows = list(csv.reader((tmp_path / "r.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert rows[:2] == [["line", "field", "reason"], ["2", "年龄 (age)", "Not a valid integer."]]
    assert len(rows) == 26 and summary.describe().endswith(f"all are in {tmp_path / 'r.csv'}")


def test_the_summary_and_report_are_in_chinese_by_default(tmp_path):
    summary = ImportSummary("/somewhere/人员.csv", rows_read=3, imported=1, seconds=2.0)
    summary.rejected_rows = [
        RejectedRow(2, (Problem("age", "Not a valid integer.", "年龄"),)),
        RejectedRow(3, (Problem("", "the same as line 2"),
                        Problem("code", "already registered (person 42)", "编号")))]
    lines = summary.describe().splitlines()
    assert lines == ["人员.csv：读取 3 行，导入 1 行，未导入 2 行，用时 2.0 秒，每秒 2 行",
                     "第 2 行：年龄 (age)：不是有效的整数。",
                     "第 3 行：整行：与第 2 行重复; 编号 (code)：already registered (person 42)"]
    summary.write_report(tmp_path / "r.csv")
    rows = list(csv.reader((tmp_path / "r.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert rows[:2] == [["行号", "字段", "原因"], ["2", "年龄 (age)", "不是有效的整数。"]]
    assert summary.describe(locale="en").splitlines()[1] == "line 2: 年龄 (age): Not a valid integer."
    assert summary.as_json()["rejections"][0] == {"line": 2, "field": "年龄 (age)",
                                                  "reason": "不是有效的整数。"}
    assert summary.as_json("en")["rejections"][0]["reason"] == "Not a valid integer."
    assert negotiate(None, default=REPORT_LOCALE) == "zh_CN" and negotiate("en") == "en"
    refused = Conflict(_("exists"), fields={"code": [_("already registered")]},
                       existing_person_id="42")
    problem, = refusal_problems(refused, People.columns, {"code": "编号"})
    assert translate(problem.message, "zh_CN") == "已登记（person 42）"

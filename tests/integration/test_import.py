"""Spreadsheet imports (hub.sheets) against the real database: clients (CSV, XLSX, GBK CSV) into
intake, workers and volunteers into resources; a file is written wholly or not at all."""
import csv
import io
import itertools
import zipfile
from datetime import date

import openpyxl
import psycopg
import pytest
from click.testing import CliRunner
from psycopg.rows import dict_row

from contracts.idnumber import make as make_id
from hub.db import Database
from hub.migrate import migrate
from hub.sheets import SheetError
from intake import registry
from intake.importer import CLIENTS
from resources import volunteers
from resources.importer import VOLUNTEERS, WORKERS
from tooling.cli import main
from tooling.privileges import provision

ZH_HEADER = ["序号", "姓名", "身份证号码", "联系电话", "村（社区）代码", "对象类别", "风险等级",
             "风险标记", "残疾类别", "残疾等级", "监护人姓名", "监护人电话", "监护人关系",
             "知情同意", "同意日期", "登记人", "登记日期"]
EN_HEADER = ["name", "id_number", "phone", "village_code", "categories", "risk_level",
             "guardian_name", "guardian_phone", "guardian_relation", "consent_given",
             "consent_date", "recorded_by"]
_sequence = itertools.count(1)


def new_id(age):
    """A valid ID number no other test uses (region 110105, so never one of the API tests')."""
    n = next(_sequence)
    birth = date(date.today().year - age - 1, 1 + n % 12, 1 + n % 28)
    return make_id("110105", birth, n % 1000)


def bad_check_character(number):
    return number[:-1] + ("0" if number[-1] != "0" else "1")


def zh_row(n, name, id_number, categories="孤寡/独居老人", village="341721100001", **extra):
    row = dict(zip(ZH_HEADER, [str(n), name, id_number, "13900001111", village, categories, "中",
                               "", "", "", "", "", "", "是", "2024/3/5", "社工甲", "2024年3月5日"]))
    row.update(extra)
    return [row[h] for h in ZH_HEADER]


def write_csv(path, header, rows, encoding="utf-8-sig"):
    buffer = io.StringIO()
    out = csv.writer(buffer)
    out.writerow(header)
    out.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


@pytest.fixture(scope="module")
def intake_db(settings):
    migrate(settings, "intake")
    provision(settings, ["intake"])     # register_directly runs as intake's role, as the API does
    with psycopg.connect(settings.database_dsn("intake"), autocommit=True) as conn:
        yield conn


def lookup(settings, id_number):
    return registry.cipher(settings.data_key).lookup_hash(id_number)


def client_row(conn, settings, id_number):
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT * FROM clients WHERE id_number_hash = %s",
                           (lookup(settings, id_number),)).fetchone()


def written(conn, settings, id_number):
    """(clients, history rows, registered events) stored for this ID number."""
    rows = conn.execute("SELECT id FROM clients WHERE id_number_hash = %s",
                        (lookup(settings, id_number),)).fetchall()
    if not rows:
        return 0, 0, 0
    cid = rows[0][0]
    history = conn.execute("SELECT count(*) FROM client_history WHERE client_id = %s",
                           (cid,)).fetchone()[0]
    events = conn.execute("SELECT count(*) FROM hub_outbox WHERE subject = %s AND type = "
                          "'client.registered.v1'", (f"client/{cid}",)).fetchone()[0]
    return len(rows), history, events


def import_file(settings, path, **options):
    return CLIENTS.run(settings, path, progress=False, **options)


def problems_by_line(summary):
    return {r.line: {p.field: p.message for p in r.problems} for r in summary.rejected_rows}


def register_directly(settings, id_number):
    """Register a client the way the API does (same use case, own transaction)."""
    db = Database(settings, "intake", min_size=1, max_size=1)
    try:
        with db.transaction() as tx:
            registry.register(tx, settings, {
                "name": "已登记", "id_number": id_number, "phone": None,
                "village_code": "341721100001", "categories": ["solitary_elderly"],
                "disability": None, "guardian": None, "risk_level": "low", "risk_flags": [],
                "consent": {"given": True, "date": date(2024, 1, 2), "recorded_by": "甲"},
                "effective_date": None}, "test")
    finally:
        db.close()


def test_chinese_csv_imports_valid_rows_and_reports_the_others_by_line(settings, intake_db,
                                                                       tmp_path):
    registered = new_id(75)
    register_directly(settings, registered)
    elder, child, disabled = new_id(70), new_id(10), new_id(45)
    ids = {"bad_check": bad_check_character(new_id(70)), "outside": new_id(70),
           "adult_child": new_id(40)}
    rows = [
        zh_row(1, "张老汉", elder),                                                   # line 2
        zh_row(2, "李错号", ids["bad_check"]),                                        # line 3
        zh_row(3, "外县人", ids["outside"], village="110101001001"),                  # line 4
        zh_row(4, "赵成年", ids["adult_child"], categories="留守儿童"),                # line 5
        zh_row(5, "王小明", child, categories="留守儿童、困境儿童", 监护人姓名="王大明",  # line 6
               监护人电话="13900002222", 监护人关系="父亲", 风险等级="高"),
        zh_row(6, "张老汉又一行", elder),                                             # line 7
        zh_row(7, "已登记者", registered),                                            # line 8
        [],                                                                           # line 9
        zh_row(9, "孙残疾", disabled, categories="残疾人,低保对象", 残疾类别="肢体残疾",  # line 10
               残疾等级="二级", 风险等级="危急", 风险标记="独居；慢性病"),
    ]
    path = write_csv(tmp_path / "东至县服务对象.csv", ZH_HEADER, rows)
    report = tmp_path / "rejected.csv"
    before = intake_db.execute("SELECT count(*) FROM clients").fetchone()[0]

    summary = import_file(settings, path, report_path=report, chunk_rows=3, locale="en")

    assert (summary.rows_read, summary.imported) == (8, 3)
    problems = problems_by_line(summary)
    assert sorted(problems) == [3, 4, 5, 7, 8]
    assert "check character" in problems[3]["id_number"]
    assert "not a village of" in problems[4]["village_code"]
    assert "left_behind_child" in problems[5]["categories"]
    assert "line 2" in problems[7]["id_number"]
    assert "already registered" in problems[8]["id_number"]
    assert intake_db.execute("SELECT count(*) FROM clients").fetchone()[0] == before + 3
    for number in (elder, child, disabled):
        assert written(intake_db, settings, number) == (1, 1, 1)
    for number in ids.values():
        assert written(intake_db, settings, number) == (0, 0, 0)
    assert written(intake_db, settings, registered) == (1, 1, 1)     # untouched, not doubled

    kid = client_row(intake_db, settings, child)
    assert kid["categories"] == ["left_behind_child", "child_in_difficulty"]
    assert kid["guardian"] == {"name": "王大明", "phone": "13900002222", "relation": "父亲"}
    assert (kid["risk_level"], kid["registered_on"]) == ("high", date(2024, 3, 5))
    assert kid["consent"] == {"given": True, "date": "2024-03-05", "recorded_by": "社工甲"}
    other = client_row(intake_db, settings, disabled)
    assert other["disability"] == {"type": "physical", "grade": 2}
    assert other["categories"] == ["disabled", "minimum_living_allowance"]
    assert (other["risk_level"], other["risk_flags"]) == ("critical",
                                                          ["lives_alone", "chronic_illness"])
    history = intake_db.execute("SELECT action, recorded_by FROM client_history WHERE client_id "
                                "= %s", (kid["id"],)).fetchone()
    assert history == ("registered", "import:东至县服务对象.csv")

    lines = list(csv.reader(report.read_text(encoding="utf-8-sig").splitlines()))
    assert lines[0] == ["line", "field", "reason"]
    assert sorted({int(line[0]) for line in lines[1:]}) == [3, 4, 5, 7, 8]
    assert any(line[1] == "身份证号码 (id_number)" for line in lines[1:])
    shown = report.read_text(encoding="utf-8-sig") + summary.describe()
    for secret in [*ids.values(), elder, registered, "李错号", "外县人", "赵成年", "张老汉"]:
        assert secret not in shown
    assert "8 row(s) read, 3 imported, 5 rejected" in summary.describe()


def test_xlsx_with_english_headers(settings, intake_db, tmp_path):
    good, float_id, bad_consent, child = new_id(66), new_id(70), new_id(70), new_id(8)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append([h.replace("_", " ").title() for h in EN_HEADER])   # "Id Number", ...
    sheet.append(["周奶奶", good, 13900001111, 341721101001, "left_behind_elderly", "medium",
                  None, None, None, "yes", date(2024, 5, 6), "worker"])              # line 2
    sheet.append(["吴浮点", float(float_id), None, "341721101001", "solitary_elderly", "low",
                  None, None, None, True, date(2024, 5, 6), "worker"])               # line 3
    sheet.append([None] * len(EN_HEADER))                                            # line 4
    sheet.append(["郑同意", bad_consent, None, "341721101001", "solitary_elderly", "low",
                  None, None, None, "maybe", "2024-05-06", "worker"])                # line 5
    sheet.append(["钱小孩", child, None, "341721101001", "left_behind_child", "low",
                  "钱家长", "13900003333", "mother", True, date(2024, 5, 6), "worker"])  # line 6
    path = tmp_path / "clients.xlsx"
    book.save(path)

    summary = import_file(settings, path)

    assert (summary.rows_read, summary.imported) == (4, 2)
    problems = problems_by_line(summary)
    assert sorted(problems) == [3, 5]
    assert "stored as a number" in problems[3]["id_number"]
    assert "consent.given" in problems[5]
    assert written(intake_db, settings, good) == (1, 1, 1)
    assert written(intake_db, settings, child) == (1, 1, 1)
    assert written(intake_db, settings, bad_consent) == (0, 0, 0)
    row = client_row(intake_db, settings, good)
    assert (row["phone"], row["village_code"], row["township_code"]) == \
        ("13900001111", "341721101001", "341721101")
    assert row["consent"]["date"] == "2024-05-06"


def test_gbk_csv_from_chinese_excel(settings, intake_db, tmp_path):
    first, second = new_id(80), new_id(62)
    path = write_csv(tmp_path / "gbk.csv", ZH_HEADER,
                     [zh_row(1, "欧阳秀英", first, categories="留守老人"),
                      zh_row(2, "诸葛建国", second, categories="孤寡老人、特困人员")],
                     encoding="gbk")
    summary = import_file(settings, path)
    assert (summary.rows_read, summary.imported, summary.rejected) == (2, 2, 0)
    assert client_row(intake_db, settings, first)["name"] == "欧阳秀英"
    assert client_row(intake_db, settings, second)["categories"] == ["solitary_elderly",
                                                                     "extreme_poverty"]


def test_bad_headers_stop_the_import_before_anything_is_written(settings, intake_db, tmp_path):
    number = new_id(70)
    row = zh_row(1, "不该写入", number)
    unknown = write_csv(tmp_path / "unknown.csv", ZH_HEADER + ["家庭住址"], [row + ["某村"]])
    with pytest.raises(SheetError, match="家庭住址"):
        import_file(settings, unknown)
    missing = write_csv(tmp_path / "missing.csv", [h for h in ZH_HEADER if h != "身份证号码"],
                        [[c for h, c in zip(ZH_HEADER, row) if h != "身份证号码"]])
    with pytest.raises(SheetError, match="身份证号/id_number"):
        import_file(settings, missing)
    twice = write_csv(tmp_path / "twice.csv", ZH_HEADER + ["手机"], [row + ["13900001111"]])
    with pytest.raises(SheetError, match="both mean phone"):
        import_file(settings, twice)
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(SheetError, match="xlsx"):
        import_file(settings, tmp_path / "old.xls")
    assert written(intake_db, settings, number) == (0, 0, 0)


def test_a_row_the_database_refuses_is_rejected_alone(settings, intake_db, tmp_path):
    """A database error mid-chunk rolls the chunk back; it is redone row by row."""
    numbers = [new_id(70) for _ in range(5)]
    rows = [zh_row(i, "拒绝我" if i == 2 else "正常", n) for i, n in enumerate(numbers)]
    intake_db.execute("ALTER TABLE clients ADD CONSTRAINT import_test_refuse "
                      "CHECK (name <> '拒绝我') NOT VALID")
    try:
        summary = import_file(settings, write_csv(tmp_path / "refuse.csv", ZH_HEADER, rows),
                              chunk_rows=3)
    finally:
        intake_db.execute("ALTER TABLE clients DROP CONSTRAINT import_test_refuse")
    assert (summary.imported, [r.line for r in summary.rejected_rows]) == (4, [4])
    assert "CheckViolation" in summary.rejected_rows[0].problems[0].message
    assert [written(intake_db, settings, n) for n in numbers] == \
        [(1, 1, 1)] * 2 + [(0, 0, 0)] + [(1, 1, 1)] * 2


def test_the_hub_import_command(settings, intake_db, tmp_path):
    good = new_id(70)
    path = write_csv(tmp_path / "cli.csv", ZH_HEADER,
                     [zh_row(1, "命令行", good), zh_row(2, "错号", bad_check_character(new_id(70)))])
    report = tmp_path / "report.csv"
    env = {"HUB_DB_PREFIX": settings.db_prefix, "HUB_DATA_KEY": settings.data_key,
           "HUB_JWT_SECRET": settings.jwt_secret, "HUB_PG_DSN": settings.pg_dsn}
    result = CliRunner().invoke(main, ["import", "clients", str(path), "--report", str(report),
                                       "--lang", "en"], env=env)
    assert result.exit_code == 1, result.output
    assert "2 row(s) read, 1 imported, 1 rejected" in result.output
    assert "line 3: 身份证号码 (id_number): check character" in result.output
    assert report.read_text(encoding="utf-8-sig").splitlines()[1].startswith("3,")
    assert written(intake_db, settings, good) == (1, 1, 1)
    bad = CliRunner().invoke(main, ["import", "clients", "--lang", "en", str(write_csv(
        tmp_path / "bad.csv", ["姓名", "年龄"], [["某", "70"]]))], env=env)
    assert bad.exit_code == 1 and "Unknown column header(s) '年龄'" in bad.output


def test_the_import_report_is_in_chinese_by_default(settings, intake_db, tmp_path):
    """`hub import` without --lang: the summary, each rejected row's reasons and the report's
    headers in Chinese (a file refused whole too); the values of the rows still never shown."""
    elder, wrong = new_id(70), bad_check_character(new_id(70))
    path = write_csv(tmp_path / "zh.csv", ZH_HEADER, [zh_row(1, "中文报告", elder),
                                                      zh_row(2, "错号", wrong),
                                                      zh_row(3, "重复", elder)])
    report = tmp_path / "报告.csv"
    env = {"HUB_DB_PREFIX": settings.db_prefix, "HUB_DATA_KEY": settings.data_key,
           "HUB_JWT_SECRET": settings.jwt_secret, "HUB_PG_DSN": settings.pg_dsn}
    result = CliRunner().invoke(main, ["import", "clients", str(path), "--report", str(report)],
                                env=env)
    assert result.exit_code == 1, result.output
    assert "zh.csv：读取 3 行，导入 1 行，未导入 2 行" in result.output
    assert "第 3 行：身份证号码 (id_number)：校验码不符（是否输错？）" in result.output
    assert "第 4 行：身份证号码 (id_number)：与第 2 行重复" in result.output
    assert f"未导入的行已写入 {report}" in result.output
    rows = list(csv.reader(report.read_text(encoding="utf-8-sig").splitlines()))
    assert rows == [["行号", "字段", "原因"], ["3", "身份证号码 (id_number)", "校验码不符（是否输错？）"],
                    ["4", "身份证号码 (id_number)", "与第 2 行重复"]]
    shown = result.output + report.read_text(encoding="utf-8-sig")
    assert not any(secret in shown for secret in (elder, wrong, "中文报告", "错号"))
    bad = CliRunner().invoke(main, ["import", "clients", str(write_csv(
        tmp_path / "bad.csv", ["姓名", "年龄"], [["某", "70"]]))], env=env)
    assert bad.exit_code == 1 and "第 1 行有无法识别的列名 '年龄'" in bad.output


def test_a_database_lost_part_way_leaves_nothing_written(settings, intake_db, tmp_path):
    """The connection dies on the third chunk: the two before it are rolled back with it."""
    numbers = [new_id(70) for _ in range(5)]
    rows = [zh_row(i, "断开连接" if i == 3 else "正常", n) for i, n in enumerate(numbers)]
    intake_db.execute("""
        CREATE FUNCTION import_test_disconnect() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$;
        CREATE TRIGGER import_test_disconnect BEFORE INSERT ON clients FOR EACH ROW
            WHEN (NEW.name = '断开连接') EXECUTE FUNCTION import_test_disconnect()""")
    try:
        with pytest.raises(SheetError, match="lines 4-5 .*nothing was imported"):
            import_file(settings, write_csv(tmp_path / "cut.csv", ZH_HEADER, rows), chunk_rows=2)
    finally:
        intake_db.execute("DROP TRIGGER import_test_disconnect ON clients; "
                          "DROP FUNCTION import_test_disconnect()")
    assert [written(intake_db, settings, n) for n in numbers] == [(0, 0, 0)] * 5
    summary = import_file(settings, tmp_path / "cut.csv", chunk_rows=2)      # once it is back
    assert (summary.imported, summary.rejected) == (5, 0)


def test_a_workbook_damaged_part_way_leaves_nothing_written(settings, intake_db, tmp_path):
    numbers = [new_id(70) for _ in range(40)]
    book = openpyxl.Workbook()
    book.active.append(ZH_HEADER)
    for i, number in enumerate(numbers):
        book.active.append(zh_row(i, "正常", number))
    whole, damaged = tmp_path / "whole.xlsx", tmp_path / "damaged.xlsx"
    book.save(whole)
    with zipfile.ZipFile(whole) as source, zipfile.ZipFile(damaged, "w") as out:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data[:len(data) * 3 // 4]       # cut off, as an interrupted copy is
            out.writestr(item, data)
    with pytest.raises(SheetError, match=r"damaged.xlsx after line \d+.*Nothing was imported"):
        import_file(settings, damaged, chunk_rows=5)
    assert [written(intake_db, settings, n) for n in numbers] == [(0, 0, 0)] * 40


def test_the_audit_trail_names_the_clients_written(settings, intake_db, tmp_path):
    numbers = [new_id(70), new_id(71)]
    path = write_csv(tmp_path / "audited.csv", ZH_HEADER,
                     [zh_row(1, "甲", numbers[0]), zh_row(2, "乙", bad_check_character(numbers[1])),
                      zh_row(3, "丙", numbers[1])])
    import_file(settings, path, actor="import:audited", chunk_rows=2)
    details = [row[0] for row in intake_db.execute(
        "SELECT detail FROM hub_audit WHERE action = 'client.import' AND target = "
        "'import/import:audited' ORDER BY seq")]
    ids = [str(client_row(intake_db, settings, n)["id"]) for n in numbers]
    assert details == [{"lines": "2-2", "clients": ids[:1]}, {"lines": "4-4", "clients": ids[1:]}]


# -- workers and volunteers: the same framework, resources' use cases --------------------------

@pytest.fixture(scope="module")
def resources_db(settings):
    migrate(settings, "resources")
    with psycopg.connect(settings.database_dsn("resources"), autocommit=True) as conn:
        yield conn


def test_workers_csv_in_gb18030(settings, resources_db, tmp_path):
    code = f"IMP-{next(_sequence)}-"
    path = tmp_path / "社工.csv"
    with open(path, "w", newline="", encoding="gb18030") as fh:
        out = csv.writer(fh)
        out.writerow(["序号", "姓名", "工号", "乡镇", "证书等级", "取证年份", "每周走访能力",
                      "入职日期"])
        out.writerow([1, "王社工", code + "1", "尧渡镇", "社会工作师", 2021, 15, "2022年3月1日"])
        out.writerow([2, "赵社工", code + "2", "341721101", "无", "", 8, "2023/5/6"])
        out.writerow([3, "钱社工", code + "3", "341721101", "高级", 1990, 8, ""])
        out.writerow([4, "孙社工", code + "4", "火星镇", "", "", "十", ""])
        out.writerow([5, "李社工", code + "1", "341721101", "", "", 5, ""])
    summary = WORKERS.run(settings, path, progress=False, locale="en")
    assert (summary.rows_read, summary.imported) == (5, 2), summary.describe()
    assert {(line, field) for line, field, _ in summary.report_rows()} == {
        (4, "取证年份 (certified_year)"), (5, "乡镇 (township_code)"),
        (5, "每周走访能力 (weekly_capacity)"), (6, "工号 (staff_code)")}
    assert "the same as line 2" in summary.describe()
    assert "钱社工" not in summary.describe() and "孙社工" not in summary.describe()
    imported = resources_db.execute(
        "SELECT township_code, certificate_level, joined_on FROM workers WHERE staff_code LIKE %s "
        "ORDER BY staff_code", (code + "%",)).fetchall()
    assert imported == [("341721100", "intermediate", date(2022, 3, 1)),
                        ("341721101", None, date(2023, 5, 6))]
    events = resources_db.execute("SELECT count(*) FROM hub_outbox WHERE type = "
                                  "'worker.registered.v1' AND subject IN (SELECT 'worker/' || id "
                                  "FROM workers WHERE staff_code LIKE %s)", (code + "%",))
    assert events.fetchone()[0] == 2
    again = WORKERS.run(settings, path, progress=False, locale="en")
    assert again.imported == 0
    assert any("already registered (worker " in reason for _, _, reason in again.report_rows())


def test_volunteers_xlsx(settings, resources_db, tmp_path):
    numbers = [new_id(25), new_id(61)]
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["姓名*", "身份证号", "手机号", "乡镇代码", "注册日期"])
    sheet.append(["志愿者乙", numbers[0], "13900000001", "341721106", "2024-07-01"])
    sheet.append(["志愿者丙", numbers[1], None, None, None])
    sheet.append(["志愿者丁", 341721199001011234, None, None, None])       # typed as a number
    sheet.append(["志愿者戊", numbers[0], None, None, None])
    path = tmp_path / "volunteers.xlsx"
    book.save(path)
    report = tmp_path / "r.csv"
    summary = VOLUNTEERS.run(settings, path, report_path=report, progress=False, locale="en")
    assert (summary.rows_read, summary.imported, summary.rejected) == (4, 2, 2)
    assert [(line, field) for line, field, _ in summary.report_rows()] == [
        (4, "身份证号 (id_number)"), (5, "身份证号 (id_number)")]
    assert "stored as a number" in summary.report_rows()[0][2]
    shown = report.read_text(encoding="utf-8-sig") + summary.describe()
    for secret in [*numbers, "志愿者", "13900000001"]:
        assert secret not in shown
    lookups = [volunteers.cipher(settings.data_key).lookup_hash(n) for n in numbers]
    stored = resources_db.execute("SELECT township_code FROM volunteers WHERE id_number_hash = "
                                  "ANY(%s)", (lookups,)).fetchall()
    assert set(stored) == {("341721106",), (None,)}

"""Benchmark: `hub import clients` of a 50,000-row county spreadsheet, beside raw executemany.

Writes a spreadsheet with Chinese headers (elderly people, children with guardians, disabled
people with disability type and grade), runs the operators' command in its own process as a
county IT team would, and prints rows/s and total seconds. In the same run, also in a process of
its own (no eventlet), it measures the raw floor: as many client, history and outbox rows of the
same shape written with plain executemany, 1,000 rows a transaction, into tables like intake's
own (same indexes), with no checks. Not part of `make test`:

    .venv/bin/python -m pytest tests/perf/bench_import.py -s
    BENCH_IMPORT_ROWS (default 50000), BENCH_IMPORT_FORMAT (csv or xlsx, default csv)
"""
import csv
import os
import re
import resource
import subprocess
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from contracts.idnumber import make as make_id
from hub.config import Settings
from hub.crypto import mask
from hub.migrate import migrate
from intake import registry

ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "50000"))
FORMAT = os.environ.get("BENCH_IMPORT_FORMAT", "csv")
CHUNK = 1000
ROOT = Path(__file__).resolve().parents[2]
HEADER = ["序号", "姓名", "身份证号码", "联系电话", "村（社区）代码", "对象类别", "风险等级",
          "残疾类别", "残疾等级", "监护人姓名", "监护人电话", "监护人关系", "知情同意",
          "同意日期", "登记人", "登记日期"]
KINDS = [  # first birth date, categories, disability, guardian
    (date(1950, 3, 1), "孤寡/独居老人", ("", ""), ("", "", "")),
    (date(2014, 3, 1), "留守儿童、困境儿童", ("", ""), ("王家长", "13900002222", "祖父")),
    (date(1980, 3, 1), "残疾人", ("肢体残疾", "二级"), ("", "", "")),
    (date(1958, 3, 1), "低保对象，留守老人", ("", ""), ("", "", "")),
]


def id_numbers(n):
    """n different valid ID numbers, each fitting its row's kind (KINDS, in turn)."""
    return [make_id("341721", KINDS[i % len(KINDS)][0] + timedelta(days=i // 1000), i % 1000)
            for i in range(n)]


def spreadsheet(path, settings, n):
    villages = [v for t in settings.county.townships.values() for v in t.villages]
    rows = [HEADER]
    for i, number in enumerate(id_numbers(n)):
        _, categories, disability, guardian = KINDS[i % len(KINDS)]
        rows.append([i + 1, "压测对象", number, "13900001111", villages[i % len(villages)],
                     categories, "中", *disability, *guardian, "是", "2024/3/5", "社工甲",
                     "2024-03-05"])
    if FORMAT == "xlsx":
        import openpyxl
        book = openpyxl.Workbook(write_only=True)
        sheet = book.create_sheet()
        for row in rows:
            sheet.append(row)
        book.save(path)
    else:
        with open(path, "w", newline="", encoding="utf-8-sig") as fh:
            csv.writer(fh).writerows(rows)


def hub_env(settings):
    env = {**os.environ, "HUB_DB_PREFIX": settings.db_prefix, "HUB_DATA_KEY": settings.data_key,
           "HUB_JWT_SECRET": settings.jwt_secret, "HUB_PG_DSN": settings.pg_dsn,
           "PYTHONPATH": str(ROOT / "services")}
    env.pop("COUNTY_CONFIG", None)
    return env


def cpu_of_children():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_cli(settings, path):
    """The command's summary, its own seconds, its wall time and the CPU seconds it used."""
    cpu, started = cpu_of_children(), time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tooling.cli", "import", "clients", str(path)],
                          env=hub_env(settings), capture_output=True, text=True)
    wall, cpu = time.perf_counter() - started, cpu_of_children() - cpu
    assert done.returncode == 0, done.stdout + done.stderr
    seconds = float(re.search(r"in ([\d.]+)s", done.stdout).group(1))
    return done.stdout.strip(), seconds, wall, cpu


def run_raw(settings):
    done = subprocess.run([sys.executable, __file__, "raw"], env=hub_env(settings),
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return float(done.stdout)


def raw_executemany(settings, ids):
    """Seconds to write the same rows (client, history, outbox) with plain executemany."""
    box = registry.cipher(settings.data_key)
    rows = []
    for number in ids:
        cid = uuid.uuid4()
        rows.append((cid, box.encrypt(number, cid.bytes), box.lookup_hash(number), mask(number)))
    consent = Jsonb({"given": True, "date": "2024-03-05", "recorded_by": "社工甲"})
    with psycopg.connect(settings.database_dsn("intake")) as conn:
        for table in ("clients", "client_history", "hub_outbox"):
            conn.execute(f"CREATE TEMP TABLE raw_{table} (LIKE {table} INCLUDING ALL)")
        conn.commit()
        started = time.perf_counter()
        for at in range(0, len(rows), CHUNK):
            part = rows[at:at + CHUNK]
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO raw_clients (id, name, id_number_enc, id_number_hash,"
                    " id_number_masked, birth_date, sex, phone, county_code, township_code,"
                    " village_code, categories, consent, risk_level, registered_on,"
                    " status_changed_on) VALUES (%s, '压测对象', %s, %s, %s, '1950-03-01', 'male',"
                    " '13900001111', '341721', '341721100', '341721100001',"
                    " ARRAY['solitary_elderly'], %s, 'medium', '2024-03-05', '2024-03-05')",
                    [(cid, enc, h, m, consent) for cid, enc, h, m in part])
                cur.executemany(
                    "INSERT INTO raw_client_history (client_id, action, effective_date,"
                    " recorded_by) VALUES (%s, 'registered', '2024-03-05', 'import:bench.csv')",
                    [(cid,) for cid, *_ in part])
                cur.executemany(
                    "INSERT INTO raw_hub_outbox (event_id, type, subject, event)"
                    " VALUES (%s, 'client.registered.v1', %s, %s)",
                    [(uuid.uuid4(), f"client/{cid}", Jsonb({"data": {"client_id": str(cid)}}))
                     for cid, *_ in part])
            conn.commit()
        return time.perf_counter() - started


def test_import_50000_rows(settings, tmp_path):
    migrate(settings, "intake")
    path = tmp_path / f"bench.{FORMAT}"
    spreadsheet(path, settings, ROWS)
    summary, seconds, wall, cpu = run_cli(settings, path)
    with psycopg.connect(settings.database_dsn("intake")) as conn:
        imported = conn.execute("SELECT count(*) FROM clients").fetchone()[0]
        events = conn.execute("SELECT count(*) FROM hub_outbox WHERE type = "
                              "'client.registered.v1'").fetchone()[0]
    assert (imported, events) == (ROWS, ROWS), summary
    raw = run_raw(settings)
    print(f"\n{summary}")
    print(f"hub import clients ({FORMAT}): {ROWS} rows in {seconds:.1f}s = "
          f"{ROWS / seconds:,.0f} rows/s (command wall time with start-up {wall:.1f}s, "
          f"CPU {cpu:.1f}s in its two processes, PostgreSQL's not counted)")
    print(f"raw executemany         : {ROWS} rows in {raw:.1f}s = {ROWS / raw:,.0f} rows/s "
          "(client + history + outbox rows, 1,000 a transaction, no checks)")
    print(f"import / raw            : {raw / seconds:.2f}   (cpus: {os.cpu_count()}, "
          f"load average at end: {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":     # `python bench_import.py raw`: the raw floor, without eventlet
    print(raw_executemany(Settings.from_env(), id_numbers(ROWS)))

"""The seed's prefecture, replayed (`make replay`; not part of `make test`): a year of 玉溪市's work
through the county hubs' interfaces gives back, in the prefecture's annual report, the seed's own
sentences.

Two county hubs of 玉溪市 (530400), 红塔区 530402 and 江川区 530403 (tests/long/counties/), and the
city's own aggregator (HUB_ROLE=prefecture), each brought up as an operator brings one up
(`hub secrets`, `hub setup`, `hub start`: every service its own process under the hub's
supervisor) with its own databases, RabbitMQ vhost, broker users and ports, the counties linked to
the city by shovels (`hub province link`) before they start. Then 2023, the seed's year, through
the counties' interfaces:

- `hub import stations`: each county's station (县级社工总站), a station in every township (乡镇社工
  站: full coverage), a room in each listed community and the volunteer service points, 711 in
  the city;
- `hub import certificates`: the civil-affairs roster of certificate holders, 2,104 by the end of
  2023, 1,503 of whom passed by the end of 2022 (as the figure counts them, by the year passed);
- a year of ordinary work through the HTTP API (tooling.demo_year: clients registered month by
  month, their visits, donations and allocations, activities, workers);
- `hub import volunteers`: the real-name volunteer registers, 369,320 people in all, as
  generated CSV files in GB18030 with Chinese headers (civil affairs' Excel exports).

Once the city's aggregator holds every event the counties published (counted), its annual report
of 2023 (`GET /reports/annual?year=2023&code=530400`) must say, literally, what the seed says of
玉溪 (SENTENCES): "全市取得社会工作者职业水平证书的人员已达到2104人，同比增长40%",
"全市实名注册志愿者达369320人，占全市人口总数的16.42%", "城乡社区志愿服务站点达711个", and
"已实现全市18个乡镇社工站建设全覆盖" (the 东至 sentence's form, for the two hubs' 18 townships),
read by the city's own operator and by a province_viewer alike. Progress and timings are
printed (run with -s). Every process, database, role, broker user and vhost it made is removed
at the end, even on failure. REPLAY_VOLUNTEERS=N replays N volunteers instead of 369,320 (a
quicker check of the same run; the volunteers' sentence is then worded from N).
"""
import csv
import io
import os
import secrets
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import click
import openpyxl
import psycopg
import pytest
import requests

from contracts.idnumber import make as make_id
from hub.broker_admin import BrokerAdmin, BrokerAdminError
from hub.county import load_county
from stats.domain import percent_text, share
from tooling import province_demo
from tooling.demo_year import YearOfWork, name_of

YEAR = 2023                         # the seed's year
CITY = ("530400", "玉溪市")
HERE = Path(__file__).parent
# the city's real-name volunteers: the seed's 369,320 unless REPLAY_VOLUNTEERS says otherwise (a
# quicker run of the same replay; the volunteers' sentence is then worded from that number)
VOLUNTEERS = int(os.environ.get("REPLAY_VOLUNTEERS") or 369_320)
HONGTA_VOLUNTEERS = VOLUNTEERS * 230_000 // 369_320
# each county's share of the city's year: its file, volunteers, certificate holders who passed
# by the end of the year before and in the year, volunteer service points
COUNTIES = {
    "530402": {"file": HERE / "counties" / "hongta-530402.yaml", "volunteers": HONGTA_VOLUNTEERS,
               "holders_before": 1_000, "holders_new": 400, "service_points": 440},
    "530403": {"file": HERE / "counties" / "jiangchuan-530403.yaml",
               "volunteers": VOLUNTEERS - HONGTA_VOLUNTEERS,
               "holders_before": 503, "holders_new": 201, "service_points": 271},
}
POPULATION = 2_249_502              # the two county files' populations added up
SEED = {"volunteers": VOLUNTEERS, "holders": 2_104, "holders_before": 1_503,
        "service_points": 711, "townships": 18}
SENTENCES = ("全市取得社会工作者职业水平证书的人员已达到2104人，同比增长40%",
             f"全市实名注册志愿者达{VOLUNTEERS}人，占全市人口总数的"
             f"{percent_text(share(VOLUNTEERS, POPULATION))}",
             "城乡社区志愿服务站点达711个",
             "已实现全市18个乡镇社工站建设全覆盖")
LEVELS = ("助理社会工作师",) * 14 + ("社会工作师",) * 5 + ("高级社会工作师",)   # 70%, 25%, 5%
EMPLOYERS = ("社工站", "社会组织", "其他", "")
START_WAIT = 240                    # seconds for a hub to answer its health check
SETTLE_TIMEOUT = 1800               # seconds for every event to reach the city's aggregator
BEGAN = time.monotonic()


def say(text):
    print(f"[replay {time.monotonic() - BEGAN:7.1f}s] {text}", flush=True)


@dataclass(frozen=True)
class ReplayHub(province_demo.DemoHub):
    """A hub of the replay: a demo province's hub (tooling.province_demo), in a folder, database
    prefix and vhost of the run's own (rp<tag><code>), so it stands beside `make province`."""
    root: Path = Path()
    tag: str = ""

    @property
    def prefix(self):
        return f"rp{self.tag}{self.code}"

    @property
    def folder(self):
        return self.root / self.code

    @property
    def county(self):
        return load_county(self.county_file)


def port_base():
    """A port offset for three hubs (ten ports each) whose ports nothing listens on, between the
    ranges the suite's hubs (test_settings: ports up to 30,370) and the kill-and-count harness
    (31,500 and up) take: two hubs on one port would share requests."""
    for attempt in range(33):
        base = 22_400 + (os.getpid() + attempt) % 33 * 30       # ports 30,400 … 31,419
        hubs = [province_demo.DemoHub(c, c, "county", base + 10 * i) for i, c in enumerate("abc")]
        try:
            province_demo.check_ports_free(hubs)
            return base
        except click.ClickException:       # names the ports in use: try another base
            continue
    raise RuntimeError("no free ports for the replay's hubs")


def hub(target, *args):
    """`hub ARGS` as the hub `target`'s operator runs it: its output."""
    return province_demo.hub_command(target, *args)


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    """The city's aggregator and its two county hubs, linked and running; then all removed."""
    root = tmp_path_factory.mktemp("replay")
    tag = secrets.token_hex(2)
    base = port_base()
    code, name = CITY
    aggregator = ReplayHub(code, name, "prefecture", base, root=root, tag=tag)
    counties = [ReplayHub(c, load_county(spec["file"]).name, "county", base + 10 * (i + 1),
                          county_file=str(spec["file"]), upstream=code, root=root, tag=tag)
                for i, (c, spec) in enumerate(COUNTIES.items())]
    hubs = [aggregator, *counties]
    amqp = os.environ.get("HUB_AMQP_URI") or province_demo.DEFAULT_AMQP
    try:
        for h in hubs:
            BrokerAdmin.from_amqp_uri(h.amqp_uri(amqp),
                                      os.environ.get("HUB_AMQP_ADMIN_URL")).ensure_vhost()
            province_demo.write_settings(h, amqp)
            hub(h, "secrets")
            hub(h, "setup")
            say(f"set up {h.role:10} {h.name} {h.code}: databases {h.prefix}_*, vhost {h.vhost}, "
                f"API {h.api_url()}")
        for county in counties:     # linked before they start: the link queue holds every event
            hub(aggregator, "province", "link", county.code, "--amqp-uri", county.amqp_uri(amqp),
                "--prefix", county.prefix)
            say(f"linked {county.name} → {aggregator.name}")
        province_demo.in_parallel(hubs, ["start", "--wait", str(START_WAIT)], say)
        tokens = {h.code: hub(h, "token", "create", "--subject", "replay").strip() for h in hubs}
        tokens["viewer"] = hub(aggregator, "token", "create", "--role", "province_viewer",
                               "--subject", "replay").strip()
        say("every hub is up")
        yield aggregator, counties, tokens
    finally:
        remove(hubs, amqp)


def remove(hubs, amqp):
    """Stop every hub and drop what it made: its processes, databases, roles, broker users and
    vhost (its folder, with the logs, stays in pytest's temporary directory)."""
    for h in hubs:
        for args in (["stop"], ["reset", "--force"]) if h.folder.is_dir() else ():
            done = subprocess.run([sys.executable, "-m", "tooling.cli", *args],
                                  env=province_demo.hub_environment(h), capture_output=True,
                                  text=True)
            if done.returncode:
                say(f"{h.name}: `hub {' '.join(args)}` failed: {done.stdout}{done.stderr}")
        try:
            BrokerAdmin.from_amqp_uri(h.amqp_uri(amqp),
                                      os.environ.get("HUB_AMQP_ADMIN_URL")).delete_vhost()
        except BrokerAdminError as exc:
            say(f"{h.name}: vhost {h.vhost} not deleted: {exc}")
        say(f"removed {h.name}: stopped, databases {h.prefix}_*, users and vhost dropped")


# -- the county's spreadsheets ----------------------------------------------------------------
def xlsx(path, headers, rows):
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(headers)
    for row in rows:
        sheet.append(["" if v is None else v for v in row])
    book.save(path)
    return path


def day_text(day):
    return f"{day.year}/{day.month}/{day.day}"      # as Excel shows a date in a Chinese locale


def stations_file(path, county, points):
    """The county's station (县级社工总站), a station in every township, a room in each listed
    community, and `points` volunteer service points at the townships and communities, all
    opened during the year; places by their names."""
    towns = sorted(county.townships.values(), key=lambda t: t.code)
    rows = [(county.code, f"{county.name}社会工作服务总站", "县级社工总站", None, county.name,
             day_text(date(YEAR, 1, 5)))]
    rows += [(t.code, f"{t.name}社会工作服务站", "乡镇社工站", county.code, t.name,
              day_text(date(YEAR, 1 + i % 6, 10))) for i, t in enumerate(towns)]
    places = [(t.code, t.name) for t in towns]
    for t in towns:
        for code, name in sorted(t.villages.items()):
            rows.append((code, f"{name}社会工作室", "社工室", t.code, name,
                         day_text(date(YEAR, 7, 1))))
            places.append((code, name))
    for n in range(points):
        place, name = places[n % len(places)]
        k = n // len(places) + 1
        rows.append((f"{place}-V{k:02d}", f"{name}第{k}志愿服务站点", "志愿服务站点", place, name,
                     day_text(date(YEAR, 7 + n % 6, 1 + n % 28))))
    return xlsx(path, ("站点编码", "站点名称", "层级", "上级站点", "所在地", "建成日期"), rows)


def certificates_file(path, county, before, new):
    """The civil-affairs roster: `before` holders who passed in 2008..YEAR-1, `new` in YEAR."""
    towns = [t.name for t in sorted(county.townships.values(), key=lambda t: t.code)]
    rows = []
    for i in range(before + new):
        passed = YEAR if i >= before else YEAR - 1 - i % 15
        rows.append((f"{passed}{county.code}{i:05d}", name_of(1000 + i), LEVELS[i % len(LEVELS)],
                     passed, towns[i % len(towns)] if i % 9 else county.name,
                     EMPLOYERS[i % len(EMPLOYERS)]))
    return xlsx(path, ("证书编号", "姓名", "证书等级", "取得年份", "所在乡镇", "单位类型"), rows)


def volunteers_file(path, county, count):
    """The real-name volunteer register as civil affairs' Excel saves it as CSV: GB18030, Chinese
    headers; people born 1950..1996, registered from 2016 to the end of YEAR."""
    towns = [t.name for t in sorted(county.townships.values(), key=lambda t: t.code)]
    first, last = date(2016, 1, 1), date(YEAR, 12, 31)
    span = (last - first).days + 1
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(("姓名", "身份证号", "联系电话", "所属乡镇", "注册日期"))
    births = 16_800                 # distinct birth days; the sequence number tells the rest
    for i in range(count):
        born = date(1950, 1, 1) + timedelta(days=i % births)
        writer.writerow((name_of(5000 + i), make_id(county.code, born, i // births),
                         f"139{county.code[-2:]}{i:06d}", towns[i % len(towns)],
                         (first + timedelta(days=i * 7919 % span)).isoformat()))
    path.write_bytes(out.getvalue().encode("gb18030"))
    return path


def import_file(county, kind, path):
    """`hub import KIND PATH` in the county (English summary), as its own process: its progress
    bar shown every 30 s, its summary line at the end; returns the seconds it took."""
    started = time.monotonic()
    out, bar = path.with_name(path.name + ".out"), path.with_name(path.name + ".progress")
    with open(out, "wb") as stdout, open(bar, "wb") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "tooling.cli", "import", kind, str(path),
                                 "--lang", "en"], env=province_demo.hub_environment(county),
                                stdout=stdout, stderr=stderr)
        shown = started
        while proc.poll() is None:
            time.sleep(1)
            if time.monotonic() - shown >= 30:
                shown = time.monotonic()
                say(f"{county.name}: hub import {kind}: {last_line(bar)}")
    took = time.monotonic() - started
    summary = out.read_text()
    assert proc.returncode == 0 and " 0 rejected" in summary, summary + bar.read_text()
    say(f"{county.name}: hub import {kind}: {summary.strip().splitlines()[0]} ({took:.1f} s)")
    return took


def last_line(path):
    """The progress bar as it stands (tqdm rewrites its line after a carriage return)."""
    parts = [p.strip() for p in path.read_text(errors="replace").replace("\r", "\n").split("\n")]
    return next((p for p in reversed(parts) if p), "starting")


class CityYear(YearOfWork):
    """The demo's year of ordinary work in a county, without its handful of volunteers and
    certificate holders: in the replay those come from the civil-affairs registers."""

    def volunteers(self):
        pass

    def certificate_holders(self):
        pass


# -- waiting for the city ---------------------------------------------------------------------
def database(target, service):
    dsn = os.environ.get("HUB_PG_DSN") or "host=127.0.0.1 port=5432 user=postgres"
    return psycopg.connect(f"{dsn} dbname={target.prefix}_{service}")


def counted(county):
    """(events published by the county, events left in its outboxes, counted by its stats)."""
    published = province_demo.published(county)
    left = 0
    for service in county.services:
        with database(county, service) as conn:
            left += conn.execute("SELECT count(*) FROM hub_outbox WHERE published_seq IS NULL"
                                 ).fetchone()[0]
    with database(county, "stats") as conn:
        own = conn.execute("SELECT count(*) FROM hub_inbox").fetchone()[0]
    return published, left, own


def settle(aggregator, counties, since):
    """Until the aggregator holds every event the counties published, and each county's stats
    has counted its own; progress every 15 s. Returns the number of events."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    shown = 0.0
    while True:
        states = {c.code: counted(c) for c in counties}
        published = sum(s[0] for s in states.values())
        received = province_demo.received(aggregator)
        done = (received == published and all(s[1] == 0 and s[2] >= s[0]
                                               for s in states.values()))
        if done or time.monotonic() - shown > 15:
            shown = time.monotonic()
            say("  " + "; ".join(f"{c.name}: {s[0]} published, {s[1]} in its outboxes, "
                                  f"{s[2]} counted by its stats"
                                  for c, s in zip(counties, states.values(), strict=True))
                + f"; {aggregator.name} received {received} ({time.monotonic() - since:.0f} s)")
        if done:
            time.sleep(3)           # nothing more on its way (the visits sweep may add some)
            if province_demo.received(aggregator) == sum(
                    counted(c)[0] for c in counties):
                return received
            continue
        assert time.monotonic() < deadline, "the city's aggregator did not receive every event"
        time.sleep(2)


def report(aggregator, token):
    resp = requests.get(aggregator.api_url() + "/reports/annual", timeout=60,
                        params={"year": YEAR, "code": CITY[0]},
                        headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.text
    return resp.json()


def county_figures(county, token):
    resp = requests.get(county.api_url() + "/stats", timeout=60, params={
        "level": "county", "code": county.code, "period": YEAR},
        headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.text
    return resp.json()["figures"]


def in_threads(jobs):
    """Run the callables at once; re-raise the first failure."""
    errors = []

    def run(job):
        try:
            job()
        except BaseException as exc:        # noqa: BLE001 - handed to the test below
            errors.append(exc)
    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


# -- the year --------------------------------------------------------------------------------
def test_a_year_of_the_seeds_prefecture_gives_back_its_sentences(city, tmp_path):
    aggregator, counties, tokens = city
    assert sum(c.county.population for c in counties) == POPULATION
    timings = {}

    # the station network and the roster of certificate holders, from the counties' spreadsheets
    started = time.monotonic()
    for county in counties:
        spec = COUNTIES[county.code]
        import_file(county, "stations", stations_file(
            tmp_path / f"{county.code}-站点.xlsx", county.county, spec["service_points"]))
        import_file(county, "certificates", certificates_file(
            tmp_path / f"{county.code}-持证社工花名册.xlsx", county.county,
            spec["holders_before"], spec["holders_new"]))
    timings["stations and rosters"] = time.monotonic() - started

    # a year of ordinary work in both counties at once, through the HTTP API
    started = time.monotonic()
    in_threads([lambda c=c: CityYear(c.api_url(), tokens[c.code], c.county, say,
                                     today=date(YEAR, 12, 31)).load() for c in counties])
    timings["ordinary work"] = time.monotonic() - started

    # the volunteer registers, imported in both counties at once
    started = time.monotonic()
    files = {c.code: volunteers_file(tmp_path / f"{c.code}-志愿者.csv", c.county,
                                     COUNTIES[c.code]["volunteers"]) for c in counties}
    say(f"volunteer registers written: {SEED['volunteers']} rows "
        f"({time.monotonic() - started:.1f} s)")
    imports = {}
    in_threads([lambda c=c: imports.__setitem__(c.code, import_file(
        c, "volunteers", files[c.code])) for c in counties])
    timings["volunteer registers written and imported"] = time.monotonic() - started
    for c in counties:
        rows = COUNTIES[c.code]["volunteers"]
        say(f"{c.name}: {rows} volunteers imported in {imports[c.code]:.0f} s "
            f"({rows / imports[c.code]:,.0f} rows/s)")

    # every event at the city's aggregator
    started = time.monotonic()
    events = settle(aggregator, counties, started)
    timings["events to the city"] = time.monotonic() - started
    say(f"the city's aggregator holds all {events} events of its counties")

    exact = report(aggregator, tokens[aggregator.code])
    say(f"the city's {YEAR} report (its own operator):\n{exact['narrative']}")
    seen = report(aggregator, tokens["viewer"])
    say(f"the same as a province_viewer reads it (small counts hidden):\n{seen['narrative']}")
    say("timings: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
        + f"; in all {time.monotonic() - BEGAN:.0f} s")

    assert exact["level"] == "prefecture" and exact["name"] == CITY[1]
    for sentence in SENTENCES:
        assert sentence in exact["narrative"], sentence
        assert sentence in seen["narrative"], sentence
    figures = exact["figures"]
    assert (figures["certified_workers"]["value"], figures["certified_workers"]["previous"]) == (
        SEED["holders"], SEED["holders_before"])
    assert figures["volunteers_total"]["value"] == SEED["volunteers"]
    assert figures["service_points_open"]["value"] == SEED["service_points"]
    coverage = figures["station_coverage_percent"]
    assert (coverage["value"], coverage["stations_open"], coverage["townships"]) == (
        100.0, SEED["townships"], SEED["townships"])
    # the city's figures are its counties' own, added up
    own = [county_figures(c, tokens[c.code]) for c in counties]
    for key in ("clients_registered", "visits_done", "allocations_person_times",
                "donations_money_fen", "activities_held", "volunteers_total",
                "certified_workers", "service_points_open"):
        assert figures[key]["value"] == sum(f[key]["value"] for f in own), key
    assert figures["visits_done"]["value"] > 0 and figures["clients_registered"]["value"] > 0
    # each event once: as many received as published, none refused
    with database(aggregator, "stats") as conn:
        received, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT event_id) FROM stats_received").fetchone()
        rejected = conn.execute("SELECT count(*) FROM stats_rejected").fetchone()[0]
    assert received == distinct == events and rejected == 0

"""Pictures of the console for docs/console/: a private hub with demo-like data (the demo's
clients, workers, donors, donations and allocations this year and last, visits done, overdue
and escalated, user accounts), then a station worker and a county admin log in and every page of
their menu is saved as a PNG on a phone (360×740) and a desktop (1280×800) window.

    make screenshots            # or: .venv/bin/python tests/browser/screenshots.py [--out DIR]
"""
import argparse
import os
import sys
import time
import traceback
from datetime import date, datetime, time as clock, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "services")]

import eventlet  # noqa: E402

eventlet.monkey_patch()

from playwright.sync_api import sync_playwright  # noqa: E402

from support.browser import CHROMIUM, base_url, log_in, new_user  # noqa: E402
from support.hub import wait_for, whole_hub  # noqa: E402
from contracts.idnumber import make as make_id  # noqa: E402
from tooling import demo  # noqa: E402

TODAY = date.today()
LAST_YEAR = TODAY.year - 1
TOWN = "341721100"                  # 尧渡镇, the worker's station
WINDOWS = {"phone": {"width": 360, "height": 740}, "desktop": {"width": 1280, "height": 800}}
PASSWORD = "Shegong-2026!"          # the demo users' password after their first login

# (name, township, certificate level, certified year, visits a week)
WORKERS = [("张敏", TOWN, "intermediate", 2019, 12), ("李娟", TOWN, "assistant", 2022, 10),
           ("王海涛", "341721101", "intermediate", 2020, 12),
           ("陈晓燕", "341721102", "senior", 2016, 8), ("周志刚", "341721200", "assistant", 2023, 10)]
# (username, display name, role, township)
USERS = [("xian.admin", "县民政局 刘主任", "county_admin", None),
         ("yaodu.admin", "尧渡镇 孙站长", "township_admin", TOWN),
         ("zhangmin", "张敏", "station_worker", TOWN),
         ("lijuan", "李娟", "station_worker", TOWN),
         ("wanghaitao", "王海涛", "station_worker", "341721101")]
PROVIDERS = [("东至县慈善协会", "social_organisation", "social_organisation"),
             ("尧渡镇商会", "community_group", "social_resource"),
             ("安徽皖东粮油有限公司", "enterprise", "social_resource")]


# more clients of the worker's station, so that their day has visits due now and this week:
# (name, birth date, village, categories, risk, days since registration, extra)
STATION_CLIENTS = [
    ("何玉珍", date(1944, 5, 6), "341721100201", ["solitary_elderly"], "medium", 31, {}),
    ("黄建军", date(1959, 8, 8), "341721100001", ["disabled"], "medium", 32,
     {"disability": {"type": "physical", "grade": 3}}),
    ("钱小军", date(2013, 3, 3), "341721100201", ["left_behind_child"], "low", 26,
     {"guardian": {"name": "钱奶奶", "phone": "13905667788", "relation": "祖母"}}),
    ("孔繁荣", date(1950, 10, 1), "341721100001", ["left_behind_elderly"], "low", 28, {}),
]


def station_clients(county):
    for i, (name, born, village, cats, risk, days, extra) in enumerate(STATION_CLIENTS):
        registered = days_ago(days)
        yield {"name": name, "id_number": make_id(county.code, born, 501 + i * 2),
               "phone": f"1390566{2000 + i:04d}", "village_code": village, "categories": cats,
               "risk_level": risk, "consent": {**demo.CONSENT, "date": registered},
               "effective_date": registered, **extra}


def days_ago(n):
    return (TODAY - timedelta(days=n)).isoformat()


def last_year(month, day):
    return date(LAST_YEAR, month, day).isoformat()


def at_nine(day):
    return datetime.combine(date.fromisoformat(day), clock(9, 30),
                            tzinfo=timezone(timedelta(hours=8))).isoformat()


# when each demo client (in demo.CLIENTS' order) was registered, and when they were visited:
# some done, some overdue a week (escalated to the township), some a month and more (the county)
REGISTERED = [days_ago(20), last_year(5, 10), last_year(4, 1), last_year(9, 1), last_year(3, 1),
              days_ago(50), last_year(7, 1), days_ago(12), days_ago(80), days_ago(2)]
VISITED = {1: [last_year(6, 1)], 2: [last_year(6, 20), days_ago(10)],
           3: [last_year(10, 1), days_ago(5)], 4: [last_year(4, 2), last_year(9, 3), days_ago(3)],
           6: [last_year(8, 15), days_ago(40)]}


def ok(resp, *expected):
    if resp.status_code not in (expected or (200, 201)):
        raise RuntimeError(f"{resp.request.method} {resp.request.url}: {resp.status_code} "
                           f"{resp.text[:300]}")
    return resp.json() if resp.content else None


def retry(call, *expected, timeout=30):
    """A call whose record another service must hear of first (a client, a worker): again until
    it is accepted."""
    deadline = time.monotonic() + timeout
    while True:
        resp = call()
        if resp.status_code in (expected or (200, 201)) or time.monotonic() > deadline:
            return ok(resp, *expected)
        eventlet.sleep(0.3)


def load(hub):
    """The demo data, through the public API; returns the id of a donation given out."""
    api = hub.client()
    workers = [ok(api.post("/workers", json={
        "name": name, "staff_code": f"DZ{i + 1:03d}", "township_code": town,
        "certificate_level": level, "certified_year": year, "weekly_capacity": cap,
        "effective_date": last_year(1, 10)}))["id"] for i, (name, town, level, year, cap)
        in enumerate(WORKERS)]
    clients = []
    for body, registered in zip(demo.demo_clients(hub.settings.county), REGISTERED):
        body.update(effective_date=registered,
                    consent={**body["consent"], "date": registered})
        clients.append(ok(api.post("/clients", json=body))["id"])
    for body in station_clients(hub.settings.county):
        ok(api.post("/clients", json=body))
    for i, days in VISITED.items():
        for day in days:
            retry(lambda: api.post("/visits", json={
                "client_id": clients[i], "worker_id": workers[0 if i != 8 else 4],
                "visited_at": at_nine(day), "mode": "home",
                "notes": "入户走访，了解近况。"}), 201)
    providers = [ok(api.post("/providers", json={
        "name": name, "kind": kind, "five_society": society, "township_code": None,
        "effective_date": last_year(1, 5)}))["id"] for name, kind, society in PROVIDERS]
    last = ok(api.post("/donations", json={
        "provider_id": providers[0], "kind": "money", "amount_fen": 2_350_000,
        "received_on": last_year(3, 20), "township_code": TOWN}))
    money = ok(api.post("/donations", json={
        "provider_id": providers[1], "kind": "money", "amount_fen": 3_600_000,
        "received_on": days_ago(60), "township_code": TOWN,
        "earmark": {"category": "child_in_difficulty"}}))
    rice = ok(api.post("/donations", json={
        "provider_id": providers[2], "kind": "goods", "item": "大米", "unit": "袋",
        "quantity": 200, "value_fen": 2_000_000, "received_on": days_ago(30)}))
    ok(api.post("/donations", json={
        "provider_id": providers[0], "kind": "money", "amount_fen": 1_000_000,
        "received_on": days_ago(8), "township_code": "341721101"}))
    gifts = [(last["id"], 4, {"amount_fen": 200_000}, last_year(4, 2)),
             (last["id"], 1, {"amount_fen": 150_000}, last_year(6, 1)),
             (last["id"], 2, {"amount_fen": 100_000}, last_year(6, 20)),
             (money["id"], 4, {"amount_fen": 300_000}, days_ago(20)),
             (rice["id"], 1, {"quantity": 2}, days_ago(25)),
             (rice["id"], 2, {"quantity": 2}, days_ago(25)),
             (rice["id"], 8, {"quantity": 2}, days_ago(24)),
             (rice["id"], 5, {"quantity": 1}, days_ago(10))]
    for donation_id, i, amount, on in gifts:
        retry(lambda: api.post("/allocations", json={
            "donation_id": donation_id, "client_id": clients[i], "allocated_on": on,
            **amount}), 201)
    ok(api.post("/visits/overdue-sweep"))
    return rice["id"]


def users(hub):
    """The demo's accounts, each past its first-login password change."""
    api = hub.client()
    for username, display_name, role, township in USERS:
        first = new_user(hub, username, role, township, display_name)
        session = ok(api.post("/session", json={"username": username, "password": first}), 201)
        ok(api.post("/session/password", json={"current_password": first,
                                                "new_password": PASSWORD},
                    headers={"Authorization": f"Bearer {session['access_token']}"}))


def wait_for_figures(hub):
    """Until stats has counted this year's allocations (its consumer runs behind the writes)."""
    api = hub.client()

    def counted():
        report = ok(api.get("/reports/annual", params={"year": TODAY.year, "code": "341721"}))
        return (report["figures"].get("allocations_person_times", {}).get("value") or 0) >= 5
    wait_for(counted, timeout=60, interval=0.5)


def shoot(hub, out, donation_id):
    """Log in as a worker and a county admin and save every page of their menu, phone and
    desktop; returns the files saved."""
    shots = []
    # not `with sync_playwright()`: its stop() never returns under eventlet; the process ends
    # with os._exit once the hub is cleaned up (main)
    browser = sync_playwright().start().chromium.launch(executable_path=CHROMIUM,
                                                         args=["--no-sandbox"])
    for who, username in (("worker", "zhangmin"), ("admin", "xian.admin")):
        for size, viewport in WINDOWS.items():
            context = browser.new_context(viewport=viewport, locale="zh-CN")
            page = context.new_page()
            if who == "worker":
                page.goto(base_url(hub) + "/")
                page.wait_for_selector("#login-form")
                shots.append(save(page, out, "login", size))
            page.set_viewport_size(WINDOWS["desktop"])     # log_in waits for a visible menu
            log_in(page, hub, username, PASSWORD)
            page.set_viewport_size(viewport)
            page.reload()                                   # the menu as a phone shows it
            page.wait_for_selector("#menu a[data-page]", state="attached")
            names = [n for n in page.eval_on_selector_all(
                "#menu a[data-page]", "els => els.map(e => e.dataset.page)") if n != "logout"]
            for name in names:
                shots.append(visit(page, hub, out, name,
                                   name if name.startswith(who) else f"{who}-{name}", size))
            if who == "admin":
                shots.append(visit(page, hub, out, "admin-donations?tab=allocations",
                                   "admin-allocations", size))
                shots.append(visit(page, hub, out, f"admin-donation?id={donation_id}",
                                   "admin-donation", size))
                shots.append(new_account(page, hub, out, size))
            context.close()
    browser.close()
    return shots


def new_account(page, hub, out, size):
    """The users page just after a county admin made an account: its first password, once."""
    visit(page, hub, out, "admin-users")
    page.click("text=新建账号")
    page.fill(".user-form input[name=username]", f"wuxia.{size}")
    page.fill(".user-form input[name=display_name]", "吴霞")
    page.select_option(".user-form select[name=township]", TOWN)
    page.click(".user-form button[type=submit]")
    page.wait_for_selector(".password-box")
    page.wait_for_selector(".toast", state="detached", timeout=10000)
    page.evaluate("window.scrollTo(0, 0)")
    return save(page, out, "admin-users-new-password", size)


def visit(page, hub, out, route, name=None, size=None):
    """Open a page of the console and wait until it has stopped loading; save it if named."""
    page.goto(f"{base_url(hub)}/#/{route}")
    quiet = 0
    deadline = time.monotonic() + 30
    while quiet < 3:            # three looks in a row, 0.3 s apart, without a loading line
        if time.monotonic() > deadline:
            raise RuntimeError(f"{route} is still loading after 30 s")
        busy = page.evaluate("document.querySelector('main').textContent.includes('正在')")
        quiet = 0 if busy else quiet + 1
        time.sleep(0.3)
    page.evaluate("window.scrollTo(0, 0)")
    return save(page, out, name, size) if name else None


def save(page, out, name, size):
    """A PNG of the page: the whole of it on a desktop, at most two screens on a phone."""
    path = out / f"{name}-{size}.png"
    height = page.evaluate("document.documentElement.scrollHeight")
    viewport = page.viewport_size
    limit = viewport["height"] * (2 if size == "phone" else 3)
    page.screenshot(path=str(path), full_page=True,
                    clip={"x": 0, "y": 0, "width": viewport["width"],
                          "height": min(height, limit)})
    print("saved", path.relative_to(ROOT) if path.is_relative_to(ROOT) else path, flush=True)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "console")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        with whole_hub("shots") as hub:
            donation_id = load(hub)
            users(hub)
            wait_for_figures(hub)
            shots = shoot(hub, args.out, donation_id)
        if len(shots) < 20:
            raise RuntimeError(f"only {len(shots)} pictures: a menu did not load")
        print(f"{len(shots)} pictures in {args.out}", flush=True)
    except BaseException:
        traceback.print_exc()
        os._exit(1)
    os._exit(0)


if __name__ == "__main__":
    main()

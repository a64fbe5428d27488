"""The station console in Debian's Chromium (Playwright), used as a station worker uses it: log in
and change the first password, register a client, record a visit, lose the connection and go on
recording, get it back and see each record arrive once; five wrong passwords lock an account.
Every outcome is checked through the API, not only on the page. Also: the browser's ID-number
rule (js/idnumber.js) agrees with the server's (contracts/idnumber.py) on the same numbers."""
import os
from datetime import date, timedelta

import pytest
import requests

from contracts import idnumber
from support import pii
from support.browser import (
    DESKTOP,
    PHONE,
    TOWNSHIP,
    base_url,
    log_in,
    new_user,
)
from support.hub import client_body, new_id_number, wait_for

VILLAGE = "341721100201"            # 七里村 of 尧渡镇
SHOTS = os.environ.get("CONSOLE_SHOTS")    # a directory for screenshots, while working on pages


@pytest.fixture(scope="module")
def phone(chromium):
    context = chromium.new_context(viewport=PHONE, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15000)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    context.close()
    assert not errors, errors


def show(page, name, **params):
    """Open a page of the console by its route, as a menu link or a button does."""
    query = "&".join(f"{k}={v}" for k, v in params.items())
    page.evaluate("""h => {
        if (location.hash === h) dispatchEvent(new HashChangeEvent('hashchange'));
        else location.hash = h; }""", f"#/{name}" + (f"?{query}" if query else ""))


def route_id(page):
    return page.evaluate("() => new URLSearchParams(location.hash.split('?')[1]).get('id')")


def overdue_client(hub, name):
    """A client of the station registered 40 days ago, whose first visit is overdue by now."""
    body = client_body(village=VILLAGE, name=name,
                       effective_date=(date.today() - timedelta(days=40)).isoformat())
    resp = hub.client().post("/clients", json=body)
    assert resp.status_code == 201, resp.text
    client = resp.json()
    visit = wait_for(lambda: open_visits(hub, client["id"]), timeout=20)[0]
    return client, visit


def open_visits(hub, client_id):
    items = hub.client().get("/visits", params={"client_id": client_id}).json()["items"]
    return [v for v in items if v["status"] in ("scheduled", "due", "overdue")]


def clients_with(hub, id_number):
    """The clients of the village whose (revealed) ID number is `id_number`."""
    items = hub.client().get("/clients", params={"village_code": VILLAGE, "limit": 200,
                                                 "reveal": "id_number"}).json()["items"]
    return [c for c in items if c["id_number"] == id_number]


def record_visit(page, visit_id, notes):
    show(page, "today")
    page.click(f"[data-visit='{visit_id}'] >> text=记录走访")
    page.wait_for_selector("#visit-form")
    page.check("input[name=mode][value=home]")
    page.fill("#f-notes", notes)
    page.click("text=＋ 添加需求")
    page.select_option("select[name='needs.0.kind']", "goods")
    page.fill("textarea[name='needs.0.description']", "冬季棉被")
    shoot(page, "visit-phone")
    page.click("#visit-form button[type=submit]")


def register(page, name, id_number):
    show(page, "register")
    page.wait_for_selector("#register-form")
    page.fill("#f-name", name)
    page.fill("#f-id_number", id_number)
    page.select_option("#f-village_code", VILLAGE)
    page.check("input[name=categories][value=solitary_elderly]")
    page.check("#f-consent-given")
    page.click("#register-form button[type=submit]")
    # (waits that Playwright checks in Python never time out in this eventlet-patched process:
    # every wait here is one the browser checks)
    page.wait_for_function("() => location.hash.startsWith('#/client?id=')")
    return route_id(page)


def shoot(page, name):
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


def test_the_vocabulary_is_the_contracts_with_a_chinese_label_for_every_code(console_hub):
    from contracts import clients
    vocabulary = requests.get(base_url(console_hub) + "/console/vocabulary.json", timeout=10).json()
    assert [(c["code"], c["min_age"], c["max_age"]) for c in vocabulary["categories"]] == [
        (code, lo, hi) for code, (_, lo, hi) in clients.CATEGORIES.items()]
    assert [r["code"] for r in vocabulary["risk_levels"]] == list(clients.RISK_LEVELS)
    for name, items in vocabulary.items():
        if isinstance(items, list) and items and "label" in items[0]:
            assert all(i["label"] != i["code"] for i in items), name
    towns = {t["code"]: t for t in vocabulary["townships"]}
    assert {v["code"] for v in towns[TOWNSHIP]["villages"]} == set(
        console_hub.settings.county.townships[TOWNSHIP].villages)


def test_the_id_number_rule_in_the_browser_is_the_servers(console_hub, phone):
    today = date.today()
    valid = [idnumber.make(region, born, seq) for region, born, seq in [
        ("341721", date(1941, 2, 3), 4), ("110101", date(2000, 2, 29), 123),
        ("341721", today - timedelta(days=1), 999), ("440305", date(1890, 1, 1), 0)]]
    valid += [idnumber.make("341721", date(1950 + i, 1 + i % 12, 1 + i % 28), i) for i in range(40)]
    x_checked = next(n for n in valid if n.endswith("X"))
    broken = [n[:17] + ("0" if n[17] != "0" else "1") for n in valid[:10]]          # check char
    broken += [x_checked.lower(), " " + valid[0] + " ", valid[0][:17], valid[0] + "1",
               "34172119410203004A", "３41721194102030049", "",
               idnumber.make("341721", today + timedelta(days=1), 5).replace("-", ""),
               "341721" + "19410230" + "004" + idnumber.check_character("34172119410230004"),
               "341721" + "18891231" + "004" + idnumber.check_character("34172118891231004"),
               "341721" + "00000101" + "004" + idnumber.check_character("34172100000101004")]
    cases = valid + broken
    phone.goto(base_url(console_hub) + "/")
    in_browser = phone.evaluate("""async ([cases, today]) => {
        const m = await import('/console/js/idnumber.js');
        return cases.map((c) => m.parse(c, today)); }""", [cases, today.isoformat()])
    agreed = 0
    for number, js in zip(cases, in_browser, strict=True):
        try:
            py = idnumber.parse(number, today)
        except idnumber.InvalidIdNumber:
            py = None
        if number and not number.strip().isascii():
            # Python's isdigit() takes full-width digits that the API's pattern refuses first
            assert not js["ok"], number
            continue
        assert js["ok"] == (py is not None), (number, js)
        if py:
            assert (js["birthDate"], js["sex"], js["number"]) == (
                py.birth_date.isoformat(), py.sex, py.number), number
        agreed += 1
    assert agreed >= 60 and any(not r["ok"] and r["reason"] == "check" for r in in_browser)


def test_a_station_worker_registers_records_and_works_offline(console_hub, phone):
    hub = console_hub
    password = new_user(hub, "wang.gl")
    # 1. the first login asks for a new password; the old one is then refused
    log_in(phone, hub, "wang.gl", password, new_password="春天的社工站2026")
    assert phone.locator("#who").inner_text() == "王社工"
    assert hub.client().post("/session", json={"username": "wang.gl", "password": password}
                             ).status_code == 401
    shoot(phone, "today-phone")

    # 2. a registration, which the hub then has (the ID number checked as typed)
    phone_number = new_id_number(age=72)
    pii.remember("张桂兰")
    show(phone, "register")
    phone.fill("#f-id_number", phone_number[:17] + ("1" if phone_number[17] == "0" else "0"))
    assert "校验位" in phone.locator("#id-info").inner_text()
    client_id = register(phone, "张桂兰", phone_number)
    shoot(phone, "client-phone")
    [registered] = clients_with(hub, phone_number)
    assert registered["id"] == client_id and registered["name"] == "张桂兰"

    # 3. a visit recorded from the day's work
    client, visit = overdue_client(hub, "李德顺")
    record_visit(phone, visit["id"], "精神尚好，屋顶漏雨")
    wait_for(lambda: hub.client().get(f"/visits/{visit['id']}").json()["status"] == "done")
    done = hub.client().get(f"/visits/{visit['id']}").json()
    assert done["notes"] == "精神尚好，屋顶漏雨" and done["mode"] == "home"
    assert done["needs"][0]["kind"] == "goods"

    # 4. offline: a visit and a registration wait on the device
    _, offline_visit = overdue_client(hub, "王芳")
    show(phone, "today")                # read while online: kept for offline use
    phone.wait_for_selector(f"[data-visit='{offline_visit['id']}']")
    phone.context.set_offline(True)
    record_visit(phone, offline_visit["id"], "离线时的走访")
    phone.wait_for_selector("text=已保存在本机")
    offline_number = new_id_number(age=80)
    pii.remember("吴秀兰")
    offline_id = register(phone, "吴秀兰", offline_number)
    phone.wait_for_selector("h1 [data-queued=waiting]")     # on the device, not yet up
    show(phone, "outbox")
    phone.wait_for_selector("[data-state=waiting]")
    assert phone.locator("[data-state=waiting]").count() == 2
    shoot(phone, "outbox-offline-phone")
    assert open_visits(hub, offline_visit["client_id"]) and not clients_with(hub, offline_number)

    # 5. back online: the first answer is lost on the way, so the same operations go again and
    # each is applied once
    lost = []

    def lose_first_answer(route):
        if not lost:
            lost.append(route.fetch().status)    # the hub applies it; the device hears nothing
            route.abort()
        else:
            route.continue_()
    phone.route("**/api/v1/sync", lose_first_answer)
    phone.context.set_offline(False)
    phone.wait_for_selector("text=上传未完成")
    assert lost == [200]
    phone.click("#sync-now")
    phone.wait_for_selector("[data-state=applied] >> nth=1")
    assert phone.locator("[data-state=waiting]").count() == 0
    shoot(phone, "outbox-synced-phone")
    [synced] = clients_with(hub, offline_number)
    assert synced["id"] == offline_id
    history = hub.client().get("/visits", params={"client_id": offline_visit["client_id"]}).json()
    done = [v for v in history["items"] if v["status"] == "done"]
    assert [v["id"] for v in done] == [offline_visit["id"]] and done[0]["notes"] == "离线时的走访"
    phone.unroute("**/api/v1/sync")

    # the console opens without a connection (the service worker's copy) on the records kept
    phone.context.set_offline(True)
    phone.reload()
    show(phone, "clients")
    phone.wait_for_selector("[data-offline]")
    assert phone.locator(f"[data-client='{offline_id}']").count() == 1
    phone.context.set_offline(False)


def test_a_registration_whose_answer_is_lost_goes_up_again_and_is_kept_once(console_hub, phone):
    """Online, a record is sent as its single call under the key its sync would use: when the
    answer is lost the device queues it, and the sync answers already_applied."""
    hub = console_hub
    lost = []

    def lose_answer(route):
        if route.request.method == "POST" and not lost:
            lost.append(route.fetch().status)
            route.abort()
        else:
            route.continue_()
    phone.route("**/api/v1/clients", lose_answer)
    number = new_id_number(age=66)
    pii.remember("孙国强")
    client_id = register(phone, "孙国强", number)
    phone.unroute("**/api/v1/clients")
    assert lost == [201]
    show(phone, "outbox")
    phone.wait_for_selector("[data-state=applied] >> text=孙国强")
    [kept] = clients_with(hub, number)
    assert kept["id"] == client_id


def test_the_pages_fit_a_phone_and_a_desktop(console_hub, chromium):
    hub = console_hub
    password = new_user(hub, "li.wide", display_name="李社工")
    first = {"new_password": "夏天的社工站2026"}
    for size in (PHONE, DESKTOP):
        context = chromium.new_context(viewport=size, locale="zh-CN")
        page = context.new_page()
        log_in(page, hub, "li.wide", password, **first)
        password, first = "夏天的社工站2026", {}
        for name in ("today", "register", "unplanned", "clients", "outbox"):
            show(page, name)
            page.wait_for_selector("main h1")
            page.wait_for_timeout(150)
            width = page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= size["width"], (name, width)
            shoot(page, f"{name}-{size['width']}")
        context.close()


def test_five_wrong_passwords_lock_the_account(console_hub, chromium):
    hub = console_hub
    password = new_user(hub, "zhao.lock", display_name="赵社工")
    context = chromium.new_context(viewport=PHONE, locale="zh-CN")
    page = context.new_page()
    page.goto(base_url(hub) + "/")

    def attempt(password):
        page.fill("#username", "zhao.lock")
        page.fill("#password", password)
        page.click("#login-form button[type=submit]")
        page.wait_for_function("() => document.querySelector('#login-error')"
                               " && !document.querySelector('#login-form button').disabled")
        return page.locator("#login-error").inner_text()

    assert "用户名或密码不正确" in attempt("wrong-0")
    for n in range(1, 5):
        attempt(f"wrong-{n}")
    shown = attempt(password)                           # the right one, too late
    assert "锁定" in shown and "15 分钟" in shown
    assert page.locator("#menu a[data-page]").count() == 0
    shoot(page, "locked-phone")
    context.close()
    assert hub.client().post("/session", json={"username": "zhao.lock", "password": password}
                             ).status_code == 429

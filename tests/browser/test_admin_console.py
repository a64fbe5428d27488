"""The admins' pages of the console (js/admin.js) in Debian's Chromium, used as an admin uses them:
a county admin sees a donation made through the API and an escalated visit, makes an account and
reads its first password once (which then logs in), downloads the annual report as CSV and XLSX
and finds the figures in the files; a township admin, on a phone, sees only their own station's
donations and accounts. Outcomes are checked through the API as well as on the page."""
import csv
import io
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook

from support.browser import (
    DESKTOP,
    PHONE,
    TOWNSHIP,
    log_in,
    new_user,
)
from support.hub import client_body, wait_for

OTHER_TOWNSHIP = "341721101"        # 东流镇
YEAR = date.today().year
NEW_PASSWORD = "Zhan-2026-mima"


@pytest.fixture(scope="module")
def donations(console_hub):
    """A donor and a money donation at the test station and one at another station."""
    api = console_hub.client()
    provider = api.post("/providers", json={"name": "尧渡镇爱心商会", "kind": "community_group",
                                            "five_society": "social_resource"})
    assert provider.status_code == 201, provider.text
    made = {}
    for township, fen in ((TOWNSHIP, 1_234_567), (OTHER_TOWNSHIP, 765_400)):
        resp = api.post("/donations", json={"provider_id": provider.json()["id"], "kind": "money",
                                            "amount_fen": fen, "township_code": township})
        assert resp.status_code == 201, resp.text
        made[township] = resp.json()
    return made


def open_as(chromium, hub, username, password, viewport):
    """A fresh browser window of that size, the user logged in (first password changed)."""
    context = chromium.new_context(viewport=DESKTOP, locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15000)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    log_in(page, hub, username, password, new_password=NEW_PASSWORD)
    if viewport != DESKTOP:
        page.set_viewport_size(viewport)
        page.reload()
    return context, page, errors


TITLES = {"admin-donations": "捐赠与发放", "admin-overdue": "逾期与督办",
          "admin-users": "账号管理", "admin-report": "年度报告"}


def show(page, route):
    """Open a page by its route, as a menu link does, and wait until it has loaded."""
    page.evaluate("h => { location.hash = h; }", f"#/{route}")
    page.wait_for_function(
        """title => { const main = document.querySelector('main');
                      const h1 = main.querySelector('h1');
                      return h1 && h1.textContent === title
                             && !main.textContent.includes('正在'); }""",
        arg=TITLES[route.split("?")[0]])


def rows(page):
    return page.locator("main table.list tbody tr").all_inner_texts()


def test_a_county_admin_sees_donations_escalations_makes_a_user_and_downloads_the_report(
        console_hub, chromium, donations):
    hub = console_hub
    api = hub.client()
    late = api.post("/clients", json=client_body(
        name="逾期对象", village="341721100201", risk_level="high",
        effective_date=(date.today() - timedelta(days=60)).isoformat()))
    assert late.status_code == 201, late.text
    wait_for(lambda: api.get("/visits", params={"client_id": late.json()["id"]}).json()["items"],
             timeout=20)
    assert api.post("/visits/overdue-sweep").status_code == 200
    wait_for(lambda: (api.get("/reports/annual", params={"year": YEAR, "code": "341721"}).json()
                      ["figures"]["donations_money_fen"]["value"] or 0) >= 1_999_967, timeout=30)
    context, page, errors = open_as(chromium, hub, "county.admin", new_user(
        hub, "county.admin", "county_admin", None, "县民政局 刘主任"), DESKTOP)

    # the donations of every station, with the donor's name and the amount in yuan
    show(page, "admin-donations")
    listed = " ".join(rows(page))
    assert "12,345.67 元" in listed and "7,654.00 元" in listed and "尧渡镇爱心商会" in listed

    # the visit escalated to the county, by client name, late by more than 30 days
    show(page, "admin-overdue?tab=county")
    escalated = [r for r in rows(page) if "逾期对象" in r]
    assert escalated and "督办到县" in escalated[0]

    # a new account: its first password is shown once, and it logs in
    show(page, "admin-users")
    page.click("text=新建账号")
    page.fill(".user-form input[name=username]", "wu.xia")
    page.fill(".user-form input[name=display_name]", "吴霞")
    page.select_option(".user-form select[name=township]", TOWNSHIP)
    page.click(".user-form button[type=submit]")
    shown = page.locator(".password-box code.password").inner_text()
    session = api.post("/session", json={"username": "wu.xia", "password": shown})
    assert session.status_code == 201, session.text
    assert session.json()["user"]["township"] == TOWNSHIP
    assert session.json()["must_change_password"] is True
    page.click("text=我已记下")
    page.wait_for_selector("main table.list tbody tr:has-text('wu.xia')")
    assert page.locator(".password-box").count() == 0
    assert shown not in page.content()

    # the county's report: the narrative, this year's money beside last year's; both downloads
    show(page, "admin-report")
    assert "链接爱心资金" in page.inner_text(".narrative")
    money = page.locator("table.list tr:has-text('链接爱心资金')").inner_text()
    assert "19,999.67 元" in money
    with page.expect_download() as download:
        page.click("text=下载 CSV")
    sheet = list(csv.reader(io.StringIO(
        download.value.path().read_bytes().decode("utf-8-sig"))))
    assert download.value.suggested_filename == f"annual-report-341721-{YEAR}.csv"
    assert ["链接爱心资金", "donations_money_fen", "元", "19999.67"] == \
        next(r for r in sheet if r[1:2] == ["donations_money_fen"])[:4]
    with page.expect_download() as download:
        page.click("text=下载 Excel")
    assert download.value.suggested_filename == f"annual-report-341721-{YEAR}.xlsx"
    book = load_workbook(io.BytesIO(download.value.path().read_bytes()))
    cells = next(r for r in book.active.iter_rows(values_only=True)
                 if r[1] == "donations_money_fen")
    assert cells[0] == "链接爱心资金" and cells[3] == pytest.approx(19999.67)
    context.close()
    assert not errors, errors


def test_a_township_admin_on_a_phone_sees_only_their_station(
        console_hub, chromium, donations):
    hub = console_hub
    new_user(hub, "other.worker", "station_worker", OTHER_TOWNSHIP, "东流镇社工")
    new_user(hub, "own.worker", "station_worker", TOWNSHIP, "尧渡镇社工")
    context, page, errors = open_as(chromium, hub, "yaodu.admin", new_user(
        hub, "yaodu.admin", "township_admin", TOWNSHIP, "尧渡镇 孙站长"), PHONE)

    show(page, "admin-donations")
    listed = " ".join(rows(page))
    assert "12,345.67 元" in listed and "7,654.00 元" not in listed
    assert page.locator("select[name=township_code]").count() == 0      # no other station
    # each row is a card that fits the phone's width
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    show(page, "admin-users")
    listed = " ".join(rows(page))
    assert "own.worker" in listed and "other.worker" not in listed
    page.click("text=新建账号")
    assert page.locator(".user-form select[name=role] option").all_inner_texts() == ["社工（站点）"]

    show(page, "admin-report")
    assert page.locator("select[name=code] option").all_inner_texts() == ["尧渡镇社工站"]
    assert "尧渡镇社工站" in page.inner_text(".narrative")
    context.close()
    assert not errors, errors

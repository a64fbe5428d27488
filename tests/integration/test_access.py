"""Access control over the whole API: every route × every role × every place.

Routes are read from the services themselves, so a route added later joins the matrix (and this
test fails until it has a sample request below). Places: a record of the caller's own station
(尧渡镇 341721100), of another station (东流镇 341721101), and the caller holding a token of
another county (石台县 341722, signed with this hub's key as a province sharing one key would).

Expected, from hub.access: another county finds nothing (404); a role the route does not name
is refused (403); a station role reaching another station's record gets 404 as if it did not
exist, its lists hold only its own township, and it cannot create in another township (403 or
404); everything else passes access control (GET 200; writes anything but 401/403/404/5xx).
"""
import time
import uuid
from datetime import date, datetime, timedelta

import jwt
import pytest
import requests

from hub.access import STATION_ROLES
from hub.auth import ROLES
from hub.http import HubHttpEntrypoint
from hub.manifest import data_services, manifest
from support.hub import client_body, new_id_number, running_hub, test_settings, wait_for

OWN, OTHER, OTHER_COUNTY = "341721100", "341721101", "341722"
VILLAGE = {OWN: "341721100001", OTHER: "341721101001"}
SECOND_VILLAGE = {OWN: "341721100201", OTHER: "341721101201"}
TODAY = date.today()


def routes():
    """(method, url, access, service) of every authenticated route of the county hub's API (the
    hub's own routes off /api/, hub.call_groups', are test_sync.py's)."""
    found = []
    for service in data_services():
        cls = manifest(service).service_class()
        for attr in dir(cls):
            for ep in getattr(getattr(cls, attr), "nameko_entrypoints", ()):
                if isinstance(ep, HubHttpEntrypoint) and not ep.public \
                        and ep.url.startswith("/api/"):
                    found.append((ep.method, ep.url, ep.declared_access, service))
    return sorted(found, key=lambda r: (r[1], r[0], r[3]))


def days(n):
    return (TODAY + timedelta(days=n)).isoformat()


# -- the records each place holds ----------------------------------------------------------------
def created(resp):
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def make_records(hub, admin, town):
    r = {"town": town}
    r["client"] = created(admin.post("/clients", json=client_body(village=VILLAGE[town])))
    r["provider"] = created(admin.post("/providers", json={
        "name": "爱心企业", "kind": "enterprise", "five_society": "social_resource",
        "township_code": town}))
    r["donation"] = created(admin.post("/donations", json={
        "provider_id": r["provider"], "kind": "money", "amount_fen": 10_000_000,
        "township_code": town}))
    r["worker"] = created(admin.post("/workers", json={
        "name": "社工", "weekly_capacity": 10, "township_code": town}))
    r["volunteer"] = created(admin.post("/volunteers", json={
        "name": "志愿者", "id_number": new_id_number(30), "township_code": town}))
    r["visit"] = wait_for(lambda: next(iter(admin.get("/visits", params={
        "client_id": r["client"]}).json()["items"]), None), timeout=20)["id"]

    def known_to_resources():
        return admin.post("/needs", json={"client_id": r["client"], "kind": "money"})
    r["need"] = created(wait_for(lambda: (lambda x: x if x.status_code == 201 else None)(
        known_to_resources()), timeout=20))
    r["allocation"] = created(admin.post("/allocations", json={
        "donation_id": r["donation"], "client_id": r["client"], "amount_fen": 100}))
    r["referral"] = created(admin.post("/referrals", json={
        "client_id": r["client"], "provider_id": r["provider"], "kind": "medical_care"}))
    r["activity"] = created(admin.post("/activities", json={
        "station": town, "kind": "lecture", "title": "讲座", "held_on": days(0),
        "participants": [r["client"]]}))
    r["user"] = created(admin.post("/users", json={
        "username": f"worker{town}", "role": "station_worker", "township": town}))
    r["certificate"] = created(admin.post("/certificates", json={
        "certificate_number": f"C{uuid.uuid4().hex[:12]}", "name": "持证人",
        "level": "assistant", "passed_year": 2020, "township_code": town}))
    return r


@pytest.fixture(scope="module")
def world():
    settings = test_settings(prefix=f"acc{uuid.uuid4().hex[:6]}")
    with running_hub(settings, [*data_services(), "gateway"]) as hub:
        admin = hub.client()
        places = {OWN: make_records(hub, admin, OWN), OTHER: make_records(hub, admin, OTHER)}
        county = {"project": created(admin.post("/projects", json={
            "title": "关爱项目", "budget_fen": 100_000, "provider_ids": [places[OWN]["provider"]],
            "starts_on": days(0), "ends_on": days(30)})),
            "round": created(admin.post("/verification-rounds", json={
                "title": "核查", "categories": ["solitary_elderly"], "deadline": days(10)}))}
        yield hub, admin, places, county


# -- the sample request of each route ---------------------------------------------------------------
PATH_RECORD = {"client_id": "client", "visit_id": "visit", "donation_id": "donation",
               "allocation_id": "allocation", "need_id": "need", "worker_id": "worker",
               "volunteer_id": "volunteer", "referral_id": "referral", "provider_id": "provider",
               "activity_id": "activity", "user_id": "user", "holder_id": "certificate",
               "code": "town"}          # a station's code: the township's own station
COUNTY_RECORD = {"project_id": "project", "round_id": "round"}


def sample(method, url, rec, admin):
    """(query, body) of a valid-looking request about place `rec`."""
    town, year = rec["town"], TODAY.year - 1
    bodies = {
        ("POST", "/api/v1/clients"): client_body(village=VILLAGE[town]),
        ("PATCH", "/api/v1/clients/<client_id>"): {"phone": "13900003333"},
        ("POST", "/api/v1/clients/<client_id>/close"): {"reason": "moved"},
        ("POST", "/api/v1/clients/<client_id>/reopen"): {},
        ("POST", "/api/v1/clients/<client_id>/transfer"): {"village_code": SECOND_VILLAGE[town]},
        ("POST", "/api/v1/clients/<client_id>/risk"): {"risk_level": "high"},
        ("POST", "/api/v1/providers"): {"name": "企业", "kind": "enterprise",
                                        "five_society": "social_resource", "township_code": town},
        ("POST", "/api/v1/donations"): {"provider_id": rec["provider"], "kind": "money",
                                        "amount_fen": 1000, "township_code": town},
        ("POST", "/api/v1/allocations"): {"donation_id": rec["donation"],
                                          "client_id": rec["client"], "amount_fen": 1},
        ("POST", "/api/v1/allocations/<allocation_id>/reverse"): {"reason": "other"},
        ("POST", "/api/v1/needs"): {"client_id": rec["client"], "kind": "goods"},
        ("POST", "/api/v1/workers"): {"name": "社工", "weekly_capacity": 5, "township_code": town},
        ("POST", "/api/v1/workers/<worker_id>/certify"): {"certificate_level": "assistant",
                                                          "certified_year": 2020},
        ("POST", "/api/v1/workers/<worker_id>/leave"): {},
        ("POST", "/api/v1/volunteers"): {"name": "志愿者", "id_number": new_id_number(25),
                                         "township_code": town},
        ("POST", "/api/v1/volunteers/<volunteer_id>/hours"): {"hours": 2, "activity": "visit"},
        ("POST", "/api/v1/referrals"): {"client_id": rec["client"], "provider_id": rec["provider"],
                                        "kind": "medical_care"},
        ("POST", "/api/v1/referrals/<referral_id>/status"): {"status": "accepted"},
        ("POST", "/api/v1/projects"): {"title": "项目", "budget_fen": 1000,
                                       "provider_ids": [rec["provider"]], "starts_on": days(0),
                                       "ends_on": days(10)},
        ("POST", "/api/v1/visits"): {"client_id": rec["client"], "mode": "home",
                                     "visited_at": datetime.now().isoformat(timespec="seconds"),
                                     "worker_id": str(uuid.uuid4())},
        ("POST", "/api/v1/visits/<visit_id>/complete"): {
            "visited_at": datetime.now().isoformat(timespec="seconds"), "mode": "home"},
        ("POST", "/api/v1/visits/<visit_id>/missed"): {"reason": "refused"},
        ("POST", "/api/v1/visits/<visit_id>/reassign"): {"worker_id": str(uuid.uuid4())},
        ("PUT", "/api/v1/visit-policy"): "policy",
        ("POST", "/api/v1/verification-rounds"): {"title": "核查", "categories": ["left_behind_child"],
                                                  "deadline": days(5)},
        ("POST", "/api/v1/verification-rounds/<round_id>/close"): {},
        ("POST", "/api/v1/activities"): {"station": town, "kind": "lecture", "title": "讲座",
                                         "held_on": days(0), "participants": [rec["client"]]},
        ("POST", "/api/v1/stats/signoff"): {"code": "341721", "year": year},
        ("POST", "/api/v1/stations/<code>/ratings"): {"year": year, "rating": "good"},
        ("POST", "/api/v1/stations"): {"code": f"A{uuid.uuid4().hex[:8]}", "name": "志愿服务站",
                                       "tier": "service_point", "place_code": town,
                                       "opened_on": days(0)},
        ("PATCH", "/api/v1/stations/<code>"): {"name": "乡镇社工站"},
        ("POST", "/api/v1/certificates"): {"certificate_number": f"C{uuid.uuid4().hex[:12]}",
                                           "name": "持证人", "level": "intermediate",
                                           "passed_year": 2021, "township_code": town},
        ("PATCH", "/api/v1/certificates/<holder_id>"): {"level": "intermediate",
                                                        "passed_year": 2022},
        ("POST", "/api/v1/visits/overdue-sweep"): None,
        ("DELETE", "/api/v1/session"): None,
        ("POST", "/api/v1/session/password"): {"current_password": "not it",
                                               "new_password": "long enough 1"},
        ("POST", "/api/v1/users"): {"username": f"u{uuid.uuid4().hex[:10]}",
                                    "role": "station_worker", "township": town},
        ("PATCH", "/api/v1/users/<user_id>"): {"display_name": "改名"},
    }
    queries = {
        ("GET", "/api/v1/stats"): {"level": "township", "code": town, "period": str(TODAY.year)},
        ("GET", "/api/v1/reports/annual"): {"year": TODAY.year, "code": "341721"},
        ("GET", "/api/v1/clients"): {"township_code": town},
        ("GET", "/api/v1/visits"): {"township_code": town},
        ("GET", "/api/v1/activities"): {"station": town},
    }
    body = bodies.get((method, url)) if method != "GET" else None
    if (method, url) not in bodies and method != "GET":
        raise AssertionError(f"no sample request for {method} {url}: add one to this test")
    if body == "policy":
        body = {k: v for k, v in admin.get("/visit-policy").json().items()
                if k not in ("county_code", "version", "effective_date", "updated_by",
                             "updated_at")}
    return queries.get((method, url), {}), body


def path_of(url, rec, county):
    path = url[len("/api/v1"):]
    for name, kind in PATH_RECORD.items():
        path = path.replace(f"<{name}>", rec[kind])
    for name, kind in COUNTY_RECORD.items():
        path = path.replace(f"<{name}>", county[kind])
    return path.replace("<code>", rec["town"])


def expected(method, url, access, role, place):
    """The answer the access rules give: a status set, or 'passes' (access granted)."""
    if place == "other_county":
        return {404}
    if role not in access.roles:
        return {403}
    confined = access.scoped and role in STATION_ROLES and place == "other_station"
    names_record = any(f"<{p}>" in url for p in PATH_RECORD)
    if confined and names_record:
        return {404}
    if confined and method != "GET":
        return {403, 404}
    return "passes"


def foreign_token(hub, role):
    """A token of another county, signed with this hub's key (a province sharing one key)."""
    now = int(time.time())
    claims = {"sub": "外县用户", "role": role, "county": OTHER_COUNTY, "iat": now,
              "exp": now + 600, "jti": str(uuid.uuid4())}
    if role in STATION_ROLES:
        claims["township"] = OTHER_COUNTY + "100"
    return jwt.encode(claims, hub.settings.jwt_secret, algorithm="HS256")


def test_every_route_role_and_place_answers_as_specified(world):
    hub, admin, places, county = world
    table = routes()
    assert len(table) > 50, table
    assert all(access is not None for _, _, access, _ in table), \
        [(m, u) for m, u, a, _ in table if a is None]       # every route says who may call it
    wrong, checked = [], 0
    session, base = requests.Session(), hub.settings.service_url("gateway") + "/api/v1"
    for method, url, access, service in table:
        for role in ROLES:
            for place in ("other_county", "other_station", "own_station"):
                rec = places[OTHER if place == "other_station" else OWN]
                query, body = sample(method, url, rec, admin)
                if place == "other_county":
                    token = foreign_token(hub, role)
                else:
                    token = hub.token(role, subject=f"{role}-tester",
                                      **({"township": OWN} if role in STATION_ROLES else {}))
                resp = session.request(method, base + path_of(url, rec, county), params=query,
                                       json=body, headers={"Authorization": f"Bearer {token}"})
                want = expected(method, url, access, role, place)
                checked += 1
                got = resp.status_code
                if want == "passes":
                    ok = (got == 200) if method == "GET" else (got < 500 and got not in (401, 403, 404))
                else:
                    ok = got in want
                if ok and want == "passes" and method == "GET" and role in STATION_ROLES \
                        and access.scoped and resp.headers.get("Content-Type", "").startswith(
                            "application/json"):
                    items = resp.json().get("items")
                    if isinstance(items, list):     # a station's lists: its own township only
                        towns = {i.get("township_code", i.get("station")) for i in items
                                 if isinstance(i, dict)}
                        ok = towns <= {None, OWN}
                if not ok:
                    wrong.append(f"{role:15} {place:13} {method} {url} -> {got} (want {want}) "
                                 f"{resp.text[:700]}")
    assert not wrong, f"{len(wrong)} of {checked} answers wrong:\n" + "\n".join(wrong)

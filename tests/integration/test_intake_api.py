"""Intake's HTTP API through the hub's gateway, against the real database and broker."""
import uuid
from datetime import date, timedelta

from support.hub import client_body, new_id_number


def test_register_returns_201_with_masked_id_and_derived_fields(hub):
    api = hub.client()
    body = client_body(age=72)
    resp = api.post("/clients", json=body)
    assert resp.status_code == 201, resp.text
    client = resp.json()
    assert client["id_number"] == body["id_number"][:3] + "*" * 11 + body["id_number"][-4:]
    assert client["age"] == 72 and client["age_group"] == "elderly"
    assert client["township_code"] == "341721100"
    assert client["status"] == "active"
    assert client["sex"] in ("male", "female")
    assert api.get(f"/clients/{client['id']}").json()["id"] == client["id"]


def test_id_number_is_encrypted_at_rest(hub):
    body = client_body()
    client = hub.client().post("/clients", json=body).json()
    with hub.db("intake") as conn:
        raw = conn.execute("SELECT * FROM clients WHERE id = %s", (client["id"],)).fetchone()
    assert body["id_number"].encode() not in b"".join(
        v if isinstance(v, bytes) else str(v).encode() for v in raw)


def test_duplicate_id_number_answers_409_with_existing_id(hub):
    api = hub.client()
    body = client_body()
    first = api.post("/clients", json=body).json()
    again = api.post("/clients", json={**body, "name": "另一个名字"})
    assert again.status_code == 409
    assert again.json()["error"]["existing_client_id"] == first["id"]


def test_bad_fields_are_named_in_422(hub):
    api = hub.client()
    body = client_body()
    cases = {
        "id_number": {**body, "id_number": body["id_number"][:-1] + ("0" if body["id_number"][-1] != "0" else "1")},
        "village_code": {**body, "village_code": "110101001001"},
        "categories": {**body, "categories": ["left_behind_child"]},
        "consent": {k: v for k, v in body.items() if k != "consent"},
        "risk_level": {**body, "risk_level": "extreme"},
        "effective_date": {**body, "effective_date": (date.today() + timedelta(days=3)).isoformat()},
    }
    for field, bad in cases.items():
        resp = api.post("/clients", json=bad)
        assert resp.status_code == 422, (field, resp.text)
        assert field in resp.json()["error"]["fields"], (field, resp.json())


def test_minor_needs_guardian_and_disabled_needs_disability(hub):
    api = hub.client()
    child = client_body(age=9, categories=["left_behind_child"])
    assert "guardian" in api.post("/clients", json=child).json()["error"]["fields"]
    child["guardian"] = {"name": "监护人", "phone": "13900002222", "relation": "祖父"}
    assert api.post("/clients", json=child).status_code == 201
    disabled = client_body(age=40, categories=["disabled"])
    assert "disability" in api.post("/clients", json=disabled).json()["error"]["fields"]
    disabled["disability"] = {"type": "physical", "grade": 5}
    assert "disability" in api.post("/clients", json=disabled).json()["error"]["fields"]
    disabled["disability"]["grade"] = 3
    assert api.post("/clients", json=disabled).status_code == 201


def test_bad_requests_never_answer_500(hub):
    api = hub.client()
    for payload in (b"", b"{", b"[]", b"null", b'{"name": 5}', "{\"id_number\": \"\u2603\"}".encode()):
        resp = api.post("/clients", data=payload, headers={"Content-Type": "application/json"})
        assert 400 <= resp.status_code < 500, (payload, resp.text)
        assert "error" in resp.json()
    assert api.get("/clients/not-a-uuid").status_code == 404
    assert api.get(f"/clients/{uuid.uuid4()}").status_code == 404
    assert api.get("/clients?limit=0").status_code == 422
    assert api.get("/clients?cursor=garbage").status_code == 422


def test_every_call_needs_a_valid_token(hub):
    import requests
    url = hub.settings.service_url("gateway") + "/api/v1/clients"
    assert requests.get(url).status_code == 401
    assert requests.get(url, headers={"Authorization": "Bearer nonsense"}).status_code == 401
    expired = hub.token(ttl_seconds=-10)
    assert requests.get(url, headers={"Authorization": f"Bearer {expired}"}).status_code == 401


def test_full_id_number_only_for_allowed_roles_when_asked(hub):
    body = client_body()
    client = hub.client().post("/clients", json=body).json()
    admin = hub.client("county_admin")
    assert admin.get(f"/clients/{client['id']}").json()["id_number"] != body["id_number"]
    assert admin.get(f"/clients/{client['id']}?reveal=id_number").json()["id_number"] == body["id_number"]
    worker = hub.client("station_worker", township="341721100")
    assert worker.get(f"/clients/{client['id']}?reveal=id_number").status_code == 403


def test_list_filters_and_cursor_pagination(hub):
    api = hub.client()
    village = "341721201201"  # 青山乡 长岭村: used only by this test
    made = [api.post("/clients", json=client_body(village=village, risk_level=r)).json()["id"]
            for r in ("low", "high", "high", "low", "high")]
    seen, cursor = [], None
    while True:
        page = api.get("/clients", params={"village_code": village, "limit": 2,
                                           **({"cursor": cursor} if cursor else {})}).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == made
    high = api.get("/clients", params={"village_code": village, "risk_level": "high"}).json()
    assert len(high["items"]) == 3
    by_township = api.get("/clients", params={"township_code": "341721201", "limit": 200}).json()
    assert set(made) <= {c["id"] for c in by_township["items"]}
    cat = api.get("/clients", params={"village_code": village, "category": "left_behind_child"}).json()
    assert cat["items"] == []


def test_patch_close_reopen_transfer_and_risk(hub):
    api = hub.client()
    cid = api.post("/clients", json=client_body()).json()["id"]
    patched = api.patch(f"/clients/{cid}", json={"phone": "13911112222",
                                                  "categories": ["solitary_elderly", "extreme_poverty"]})
    assert patched.status_code == 200, patched.text
    assert patched.json()["categories"] == ["solitary_elderly", "extreme_poverty"]
    assert api.patch(f"/clients/{cid}", json={"categories": ["left_behind_child"]}).status_code == 422

    risk = api.post(f"/clients/{cid}/risk", json={"risk_level": "critical", "risk_flags": ["self_harm"],
                                                  "reason": "visit finding"})
    assert risk.json()["risk_level"] == "critical"
    moved = api.post(f"/clients/{cid}/transfer", json={"village_code": "341721101201"})
    assert moved.json()["township_code"] == "341721101"
    past = (date.today() - timedelta(days=20)).isoformat()
    closed = api.post(f"/clients/{cid}/close", json={"reason": "moved", "effective_date": past})
    assert closed.json()["status"] == "closed" and closed.json()["status_changed_on"] == past
    assert api.post(f"/clients/{cid}/close", json={"reason": "moved"}).status_code == 409
    assert api.post(f"/clients/{cid}/close", json={"reason": "bored"}).status_code == 422
    assert api.post(f"/clients/{cid}/reopen", json={}).json()["status"] == "active"

    with hub.db("intake") as conn:
        actions = [r[0] for r in conn.execute(
            "SELECT action FROM client_history WHERE client_id = %s ORDER BY id", (cid,))]
        types = [r[0] for r in conn.execute(
            "SELECT type FROM hub_outbox WHERE subject = %s ORDER BY position", (f"client/{cid}",))]
    assert actions == ["registered", "updated", "risk_changed", "transferred", "closed", "reopened"]
    assert types == ["client.registered.v1", "client.updated.v1", "client.risk_changed.v1",
                     "client.transferred.v1", "client.closed.v1", "client.reopened.v1"]


def test_idempotency_key_returns_first_answer_and_changes_nothing(hub):
    api = hub.client()
    body = client_body()
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = api.post("/clients", json=body, headers=key)
    again = api.post("/clients", json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    with hub.db("intake") as conn:
        events = conn.execute("SELECT count(*) FROM hub_outbox WHERE subject = %s",
                              (f"client/{first.json()['id']}",)).fetchone()[0]
    assert events == 1


def test_concurrent_retries_with_one_key_register_once(hub):
    import eventlet
    api = hub.client()
    body = client_body()
    key = {"Idempotency-Key": str(uuid.uuid4())}
    pool = eventlet.GreenPool()
    answers = list(pool.imap(lambda _: api.post("/clients", json=body, headers=key), range(6)))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1


def test_openapi_document_lists_the_api(hub):
    import requests
    doc = requests.get(hub.settings.service_url("gateway") + "/api/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert "post" in doc["paths"]["/api/v1/clients"]
    assert "IntakeClientCreate" in doc["components"]["schemas"]
    assert "id_number" in doc["components"]["schemas"]["IntakeClientCreate"]["properties"]


def test_health_is_200_when_every_service_is_ready(hub):
    import requests
    resp = requests.get(hub.settings.service_url("gateway") + "/api/v1/health")
    assert resp.status_code == 200 and resp.json()["services"] == {"intake": "ready"}


def test_concurrent_registrations_are_committed_together_each_answered_as_if_alone(hub):
    import eventlet
    from prometheus_client import REGISTRY
    api = hub.client()
    bodies = [client_body() for _ in range(30)]
    twice = bodies[7]
    bodies.insert(20, dict(twice))                      # the same person, sent twice at once
    bodies.insert(5, {**client_body(), "village_code": "110101001001"})   # not this county
    labels = {"service": "intake", "work": "POST /api/v1/clients"}
    groups_before = REGISTRY.get_sample_value("hub_batch_size_count", labels) or 0
    answers = list(eventlet.GreenPool(32).imap(lambda b: api.post("/clients", json=b), bodies))
    statuses = [a.status_code for a in answers]
    assert statuses.count(201) == 30 and statuses.count(409) == 1 and statuses.count(422) == 1
    refused = answers[statuses.index(409)].json()["error"]
    first = answers[bodies.index(twice)].json()
    assert refused["existing_client_id"] == first["id"] and "id_number" in refused["fields"]
    assert "village_code" in answers[statuses.index(422)].json()["error"]["fields"]
    groups = REGISTRY.get_sample_value("hub_batch_size_count", labels) - groups_before
    assert groups < len(bodies)                         # they were committed in groups
    ids = {a.json()["id"] for a in answers if a.status_code == 201}
    with hub.db("intake") as conn:
        assert conn.execute("SELECT count(*) FROM clients WHERE id = ANY(%s::uuid[])",
                            (list(ids),)).fetchone()[0] == 30
        assert conn.execute("SELECT count(*) FROM hub_outbox WHERE type = 'client.registered.v1' "
                            "AND subject = ANY(%s)", ([f"client/{i}" for i in ids],)
                            ).fetchone()[0] == 30

"""The audit trail over a running hub: personal reads, changes and refusals leave entries that
auditors read at GET /api/v1/audit; the chain shows an altered, removed or forged entry."""
import time
import uuid

import jwt
import psycopg
import pytest
import requests
from click.testing import CliRunner

from hub.auth import issue_token
from support.hub import client_body, running_hub, test_settings, wait_for
from tooling.cli import main

OWN = "341721100"


@pytest.fixture(scope="module")
def ahub():
    settings = test_settings(prefix=f"aud{uuid.uuid4().hex[:6]}")
    with running_hub(settings, ["intake", "visits", "gateway"]) as hub:
        yield hub


def cli(hub, *args):
    s = hub.settings
    env = {"HUB_DB_PREFIX": s.db_prefix, "HUB_DATA_KEY": s.data_key,
           "HUB_JWT_SECRET": s.jwt_secret, "HUB_SERVICES": ",".join(s.data_services())}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def trail(hub, **query):
    resp = hub.client("auditor", subject="审计员").get("/audit", params={"limit": 1000, **query})
    assert resp.status_code == 200, resp.text
    return resp.json()["items"]


def call(hub, method, path, token, **kwargs):
    return requests.request(method, hub.settings.service_url("gateway") + "/api/v1" + path,
                            headers={"Authorization": f"Bearer {token}"}, **kwargs)


def test_reads_changes_and_refusals_each_leave_an_entry(ahub):
    body = client_body(name="审计对象", phone="13900007777")
    admin = ahub.client("county_admin", subject="县管理员")
    client = admin.post("/clients", json=body).json()
    path = f"/clients/{client['id']}"
    assert client["phone"] != body["phone"]                     # masked unless asked for
    shown = admin.get(path, params={"reveal": "id_number,phone"}).json()
    assert (shown["id_number"], shown["phone"]) == (body["id_number"], body["phone"])
    worker = ahub.token("station_worker", subject="社工甲", township=OWN)
    assert call(ahub, "GET", path, worker, params={"reveal": "id_number"}).status_code == 403
    assert call(ahub, "PUT", "/visit-policy", worker, json={}).status_code == 403   # escalation

    forged = jwt.encode({**jwt.decode(worker, options={"verify_signature": False}),
                         "role": "county_admin"}, "not-the-hub-key", algorithm="HS256")
    expired = issue_token(ahub.settings, "过期用户", "county_admin", ttl_seconds=-10)
    revoked = issue_token(ahub.settings, "离职社工", "township_admin", township=OWN)
    assert call(ahub, "GET", path, revoked).status_code == 200
    jti = jwt.decode(revoked, options={"verify_signature": False})["jti"]
    result = cli(ahub, "token", "revoke", "--jti", jti, "--reason", "left the station")
    assert result.exit_code == 0, result.output
    wait_for(lambda: call(ahub, "GET", path, revoked).status_code == 401, timeout=10)
    for token in (forged, expired):
        assert call(ahub, "GET", path, token).status_code == 401

    entries = trail(ahub)
    def find(action, **where):
        return [e for e in entries if e["action"] == action
                and all(e.get(k) == v or e["detail"].get(k) == v for k, v in where.items())]
    assert find("client.change", target=f"client/{client['id']}", actor="县管理员",
                role="county_admin")
    read = find("personal.read", target=f"client/{client['id']}")
    assert read and read[0]["detail"]["fields"] == ["id_number", "phone"]
    assert find("access.denied", actor="社工甲", role="station_worker",
                target=f"GET /api/v1/clients/{client['id']}")
    assert find("access.denied", actor="社工甲", target="PUT /api/v1/visit-policy")
    assert find("auth.refused", reason="bad signature", actor="社工甲", role="county_admin")
    assert find("auth.refused", reason="expired", actor="过期用户")
    assert find("auth.refused", reason="revoked", actor="离职社工")
    assert len(find("token.revoke", target=f"token/{jti}", role="operator")) == 1   # once
    assert all(e["address"] for e in entries)
    assert {e["service"] for e in entries} >= {"intake", "visits"}
    # the trail names records and fields, never their values
    text = str(entries)
    assert not any(v in text for v in ("审计对象", body["phone"], body["id_number"]))
    # only auditors read it
    assert admin.get("/audit").status_code == 403
    # paging back in time
    first = ahub.client("auditor").get("/audit", params={"limit": 2}).json()
    older = ahub.client("auditor").get("/audit", params={"limit": 2,
                                                         "until": first["next_until"]}).json()
    assert first["next_until"] and older["items"]
    assert max(e["at"] for e in older["items"]) <= min(e["at"] for e in first["items"])


def test_concurrent_changes_chain_up_without_gaps(ahub):
    import eventlet
    api = ahub.client()
    with ahub.db("intake") as conn:
        before = conn.execute("SELECT count(*) FROM hub_audit").fetchone()[0]
    answers = list(eventlet.GreenPool(20).imap(
        lambda _: api.post("/clients", json=client_body()).status_code, range(40)))
    assert answers == [201] * 40
    with ahub.db("intake") as conn:
        seqs = [r[0] for r in conn.execute("SELECT seq FROM hub_audit ORDER BY seq")]
    assert len(seqs) == before + 40 and seqs == list(range(1, len(seqs) + 1))
    result = cli(ahub, "audit", "verify", "--service", "intake")
    assert result.exit_code == 0 and "intact" in result.output, result.output


def test_the_trail_is_append_only_and_a_tampered_entry_is_detected(ahub):
    admin = ahub.client()
    for _ in range(3):
        assert admin.post("/clients", json=client_body()).status_code == 201
    ok = cli(ahub, "audit", "verify")
    assert ok.exit_code == 0 and "intake" in ok.output and "intact" in ok.output, ok.output
    with ahub.db("intake") as conn:
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute("UPDATE hub_audit SET actor = 'nobody' WHERE seq = 2")
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute("DELETE FROM hub_audit WHERE seq = 2")
        # someone with the database's owner rights gets past the trigger …
        conn.execute("ALTER TABLE hub_audit DISABLE TRIGGER hub_audit_no_change")
        conn.execute("UPDATE hub_audit SET actor = 'nobody' WHERE seq = 2")
    altered = cli(ahub, "audit", "verify", "--service", "intake")
    assert altered.exit_code == 1 and "entry 2: content does not match" in altered.output, \
        altered.output
    with ahub.db("intake") as conn:
        conn.execute("DELETE FROM hub_audit WHERE seq = 3")
        conn.execute("ALTER TABLE hub_audit ENABLE TRIGGER hub_audit_no_change")
    removed = cli(ahub, "audit", "verify", "--service", "intake")
    assert removed.exit_code == 1 and "entry 3 missing" in removed.output, removed.output
    assert "visits" in cli(ahub, "audit", "verify", "--service", "visits").output


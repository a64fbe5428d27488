"""Accounts over the real services: users, logins, first-password change, refresh rotation, log
out, lockout, disabling — and every service refusing a revoked session's tokens (tokens.revoked,
taken by intake's consumer here) — and the `hub user` commands."""
import uuid

import pytest
import requests
from click.testing import CliRunner

from support.hub import running_hub, test_settings, wait_for
from tooling.cli import main

TOWNSHIP, OTHER = "341721100", "341721101"
PASSWORD = "correct horse 1"


@pytest.fixture(scope="module")
def ahub():
    settings = test_settings(prefix=f"acct{uuid.uuid4().hex[:6]}")
    with running_hub(settings, ["intake", "accounts", "gateway"]) as hub:
        yield hub


@pytest.fixture(scope="module")
def admin(ahub):
    return ahub.client("county_admin", subject="county-admin")


def url(hub, path):
    return hub.settings.service_url("gateway") + "/api/v1" + path


def new_user(admin, role="station_worker", township=TOWNSHIP, **extra):
    name = f"u{uuid.uuid4().hex[:8]}"
    resp = admin.post("/users", json={"username": name, "role": role, "township": township,
                                      "display_name": "王社工", **extra})
    assert resp.status_code == 201, resp.text
    return resp.json()


def log_in(hub, username, password):
    return requests.post(url(hub, "/session"), json={"username": username, "password": password})


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def ready_user(hub, admin, **kwargs):
    """A user who has logged in and changed the first password: (user, session answer)."""
    user = new_user(admin, **kwargs)
    first = log_in(hub, user["username"], user["initial_password"]).json()
    changed = requests.post(url(hub, "/session/password"), headers=bearer(first["access_token"]),
                            json={"current_password": user["initial_password"],
                                  "new_password": PASSWORD})
    assert changed.status_code == 200, changed.text
    return user, changed.json()


def refused_by_intake(hub, token):
    resp = requests.get(url(hub, "/clients"), headers=bearer(token))
    return resp.status_code == 401 and "revoked" in resp.json()["error"]["message"]


def test_first_login_must_change_password_then_works(ahub, admin):
    user = new_user(admin)
    assert len(user["initial_password"]) >= 12 and user["must_change_password"]
    resp = log_in(ahub, user["username"], user["initial_password"])
    assert resp.status_code == 201, resp.text
    first = resp.json()
    assert first["must_change_password"] and first["user"]["township"] == TOWNSHIP
    blocked = requests.get(url(ahub, "/clients"), headers=bearer(first["access_token"]))
    assert blocked.status_code == 403
    assert blocked.json()["error"]["code"] == "password_change_required"
    short = requests.post(url(ahub, "/session/password"), headers=bearer(first["access_token"]),
                          json={"current_password": user["initial_password"],
                                "new_password": "short"})
    assert short.status_code == 422 and "new_password" in short.json()["error"]["fields"]
    wrong = requests.post(url(ahub, "/session/password"), headers=bearer(first["access_token"]),
                          json={"current_password": "nope", "new_password": PASSWORD})
    assert wrong.status_code == 403 and "current_password" in wrong.json()["error"]["fields"]
    changed = requests.post(url(ahub, "/session/password"), headers=bearer(first["access_token"]),
                            json={"current_password": user["initial_password"],
                                  "new_password": PASSWORD})
    assert changed.status_code == 200, changed.text
    assert not changed.json()["must_change_password"]
    works = requests.get(url(ahub, "/clients"), headers=bearer(changed.json()["access_token"]))
    assert works.status_code == 200, works.text
    me = requests.get(url(ahub, "/session"), headers=bearer(changed.json()["access_token"]))
    assert me.json()["user"]["username"] == user["username"]
    # the first session ended with the change: its token is refused everywhere
    wait_for(lambda: requests.get(url(ahub, "/session"), headers=bearer(
        first["access_token"])).status_code == 401)
    assert log_in(ahub, user["username"], PASSWORD).status_code == 201
    with ahub.db("accounts") as conn:
        stored = conn.execute("SELECT password_hash FROM users WHERE id = %s",
                              (user["id"],)).fetchone()[0]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_refresh_works_once_and_a_reused_one_ends_the_session(ahub, admin):
    _, session = ready_user(ahub, admin)
    first = requests.post(url(ahub, "/session/refresh"),
                          json={"refresh_token": session["refresh_token"]})
    assert first.status_code == 200, first.text
    fresh = first.json()
    assert fresh["refresh_token"] != session["refresh_token"]
    assert requests.get(url(ahub, "/clients"), headers=bearer(fresh["access_token"])).ok
    again = requests.post(url(ahub, "/session/refresh"),
                          json={"refresh_token": session["refresh_token"]})
    assert again.status_code == 401
    # a copied refresh token revokes the whole session: the newest tokens too
    wait_for(lambda: refused_by_intake(ahub, fresh["access_token"]))
    assert requests.post(url(ahub, "/session/refresh"),
                         json={"refresh_token": fresh["refresh_token"]}).status_code == 401


def test_log_out_revokes_the_session_in_every_service(ahub, admin):
    _, session = ready_user(ahub, admin)
    token = session["access_token"]
    assert requests.get(url(ahub, "/clients"), headers=bearer(token)).ok
    out = requests.delete(url(ahub, "/session"), headers=bearer(token))
    assert out.status_code == 204, out.text
    wait_for(lambda: refused_by_intake(ahub, token))
    assert requests.post(url(ahub, "/session/refresh"),
                         json={"refresh_token": session["refresh_token"]}).status_code == 401
    with ahub.db("intake") as conn:
        kept = conn.execute("SELECT reason, expires_at > now() FROM hub_token_revocations "
                            "WHERE reason = 'logout'").fetchall()
    assert kept and all(alive for _, alive in kept)


def test_five_wrong_passwords_lock_the_account(ahub, admin):
    user, _ = ready_user(ahub, admin)
    answers = [log_in(ahub, user["username"], "wrong password") for _ in range(5)]
    assert [a.status_code for a in answers] == [401, 401, 401, 401, 429]
    assert 0 < int(answers[-1].headers["Retry-After"]) <= 900     # the policy's lock (15 min)
    locked = log_in(ahub, user["username"], PASSWORD)
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "locked"
    unknown = log_in(ahub, "nobody-" + uuid.uuid4().hex[:6], "whatever")
    assert unknown.status_code == 401
    with ahub.db("accounts") as conn:
        actions = [r[0] for r in conn.execute(
            "SELECT action FROM hub_audit WHERE target = %s ORDER BY seq",
            (f"user/{user['id']}",))]
        trail = " ".join(str(r) for r in conn.execute("SELECT detail FROM hub_audit"))
    assert actions.count("auth.login_failed") == 5 and "auth.locked" in actions
    assert actions[-1] == "auth.login_locked"
    assert "wrong password" not in trail and PASSWORD not in trail
    # an admin's password reset unlocks, with a new first password
    reset = admin.patch(f"/users/{user['id']}", json={"reset_password": True})
    assert reset.status_code == 200 and reset.json()["initial_password"]
    assert log_in(ahub, user["username"], reset.json()["initial_password"]).status_code == 201


def test_disabling_a_user_revokes_their_tokens(ahub, admin):
    user, session = ready_user(ahub, admin)
    assert requests.get(url(ahub, "/clients"), headers=bearer(session["access_token"])).ok
    off = admin.patch(f"/users/{user['id']}", json={"disabled": True})
    assert off.status_code == 200 and off.json()["disabled"]
    wait_for(lambda: refused_by_intake(ahub, session["access_token"]))
    assert log_in(ahub, user["username"], PASSWORD).status_code == 403
    assert admin.patch(f"/users/{user['id']}", json={"disabled": False}).status_code == 200
    assert log_in(ahub, user["username"], PASSWORD).status_code == 201


def test_township_admins_manage_their_own_station_workers_only(ahub, admin):
    _, session = ready_user(ahub, admin, role="township_admin")
    mine = requests.Session()
    mine.headers.update(bearer(session["access_token"]))
    made = mine.post(url(ahub, "/users"), json={"username": f"w{uuid.uuid4().hex[:6]}",
                                                "role": "station_worker", "township": TOWNSHIP})
    assert made.status_code == 201, made.text
    boss = mine.post(url(ahub, "/users"), json={"username": f"c{uuid.uuid4().hex[:6]}",
                                                "role": "county_admin"})
    assert boss.status_code == 403
    elsewhere = new_user(admin, township=OTHER)
    assert mine.get(url(ahub, f"/users/{elsewhere['id']}")).status_code == 404
    listed = mine.get(url(ahub, "/users")).json()["items"]
    assert listed and {u["township"] for u in listed} == {TOWNSHIP}
    assert {u["role"] for u in listed} == {"station_worker"}
    worker = ready_user(ahub, admin)[1]
    assert requests.get(url(ahub, "/users"),
                        headers=bearer(worker["access_token"])).status_code == 403


def test_bad_input_names_the_field(ahub, admin):
    taken = new_user(admin)
    again = admin.post("/users", json={"username": taken["username"].upper(),
                                       "role": "station_worker", "township": TOWNSHIP})
    assert again.status_code == 409 and "username" in again.json()["error"]["fields"]
    no_place = admin.post("/users", json={"username": "x" + uuid.uuid4().hex[:6],
                                          "role": "station_worker"})
    assert no_place.status_code == 422 and "township" in no_place.json()["error"]["fields"]
    foreign = admin.post("/users", json={"username": "y" + uuid.uuid4().hex[:6],
                                         "role": "township_admin", "township": "110101001"})
    assert foreign.status_code == 422 and "township" in foreign.json()["error"]["fields"]
    empty = requests.post(url(ahub, "/session"), json={"username": "a"})
    assert empty.status_code == 422 and "password" in empty.json()["error"]["fields"]


def test_user_commands(ahub):
    s = ahub.settings
    env = {"HUB_DB_PREFIX": s.db_prefix, "HUB_DATA_KEY": s.data_key,
           "HUB_JWT_SECRET": s.jwt_secret, "HUB_SERVICE_SECRET": s.service_secret,
           "HUB_PORT_OFFSET": str(s.port_offset)}
    name = f"cli{uuid.uuid4().hex[:6]}"
    made = CliRunner().invoke(main, ["user", "create", name, "--role", "station_worker",
                                     "--township", TOWNSHIP], env=env, catch_exceptions=False)
    assert made.exit_code == 0, made.output
    password = made.output.strip().rsplit(" ", 1)[-1]
    assert log_in(ahub, name, password).status_code == 201
    listed = CliRunner().invoke(main, ["user", "list"], env=env)
    assert name in listed.output and "first password" in listed.output
    off = CliRunner().invoke(main, ["user", "disable", name], env=env)
    assert off.exit_code == 0 and log_in(ahub, name, password).status_code == 403
    bad = CliRunner().invoke(main, ["user", "create", name + "x", "--role", "station_worker"],
                             env=env)
    assert bad.exit_code != 0 and "township" in bad.output


def test_first_admin_is_printed_until_they_change_the_password(ahub):
    s = ahub.settings
    env = {"HUB_DB_PREFIX": s.db_prefix, "HUB_DATA_KEY": s.data_key,
           "HUB_JWT_SECRET": s.jwt_secret, "HUB_SERVICE_SECRET": s.service_secret,
           "HUB_PORT_OFFSET": str(s.port_offset)}

    def first_login():
        shown = CliRunner().invoke(main, ["user", "first-admin"], env=env, catch_exceptions=False)
        assert shown.exit_code == 0, shown.output
        assert f"console      : {s.service_url('gateway')}/" in shown.output
        return shown.output
    before = first_login()
    password = before.split("admin / ")[1].split()[0]
    again = first_login().split("admin / ")[1].split()[0]
    assert again != password and log_in(ahub, "admin", password).status_code == 401
    session = log_in(ahub, "admin", again).json()
    assert session["must_change_password"] and session["user"]["role"] == "county_admin"
    requests.post(url(ahub, "/session/password"), headers=bearer(session["access_token"]),
                  json={"current_password": again, "new_password": PASSWORD}).raise_for_status()
    assert "password as they set it" in first_login()

"""`hub backup` and `hub restore` against the real PostgreSQL and RabbitMQ.

A county hub with data (clients, a donation and its allocation, a completed visit, the figures
stats made of them) is backed up with the command line; the backup holds no key and records
its completion for Prometheus. It is restored into a fresh hub with another database prefix
and the same keys: a tampered file and a wrong HUB_DATA_KEY are refused before anything is
changed, a restore into databases that hold data is refused without --force. The restored
hub, started, shows every client with the same details, the same figures and an intact audit
trail.
"""
import json
import subprocess
import uuid
from datetime import date, datetime, timezone

import psycopg
import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from hub.broker_admin import BrokerAdmin
from hub.manifest import data_services
from support.hub import cleanup_hub, client_body, running_hub, test_settings, wait_for
from tooling import backup as backups
from tooling import subscribers
from tooling.cli import main

SERVICES = [*data_services(), "gateway"]
TOWN, VILLAGE = "341721100", "341721100001"
YEAR = str(date.today().year)


def cli_env(settings, **extra):
    """The environment the command line of this hub runs with (its keys given, not a file's)."""
    return {"HUB_DB_PREFIX": settings.db_prefix, "HUB_DATA_KEY": settings.data_key,
            "HUB_JWT_SECRET": settings.jwt_secret, "HUB_SERVICE_SECRET": settings.service_secret,
            "HUB_ENV_FILE": "/nonexistent/hub.env", "HUB_SERVICES": "", **extra}


def hub_cli(settings, *args, **extra):
    return CliRunner().invoke(main, list(args), env=cli_env(settings, **extra))


def created(resp):
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def make_data(hub):
    """Three clients, a donation allocated to one of them, a completed visit; returns when
    stats has counted them all."""
    api = hub.client()
    clients = [created(api.post("/clients", json=client_body(village=VILLAGE)))
               for _ in range(3)]
    provider = created(api.post("/providers", json={
        "name": "爱心企业", "kind": "enterprise", "five_society": "social_resource",
        "township_code": TOWN}))
    donation = created(api.post("/donations", json={
        "provider_id": provider, "kind": "money", "amount_fen": 2_000_000, "township_code": TOWN}))
    wait_for(lambda: api.post("/needs", json={"client_id": clients[0], "kind": "money"})
             .status_code == 201, timeout=20)
    created(api.post("/allocations", json={"donation_id": donation, "client_id": clients[0],
                                           "amount_fen": 50_000}))
    visit = wait_for(lambda: next(iter(api.get("/visits", params={
        "client_id": clients[1]}).json()["items"]), None), timeout=20)
    done = api.post(f"/visits/{visit['id']}/complete", json={
        "visited_at": datetime.now().isoformat(timespec="seconds"), "mode": "home"})
    assert done.status_code == 200, done.text

    def counted():
        figures = stats_figures(api)
        return all(figures.get(k, {}).get("value") == n for k, n in (
            ("clients_registered", 3), ("allocations_person_times", 1), ("visits_done", 1)))
    wait_for(counted, timeout=30)
    wait_for(lambda: settled(hub), timeout=30)
    return api, clients


def settled(hub):
    """Every event is published and stats (which takes them all) has processed each one."""
    published = 0
    for service in SERVICES[:-1]:
        with hub.db(service) as conn:
            waiting, sent = conn.execute(
                "SELECT count(*) FILTER (WHERE published_seq IS NULL), "
                "count(*) FILTER (WHERE published_seq IS NOT NULL) FROM hub_outbox").fetchone()
            if waiting:
                return False
            published += sent
    with hub.db("stats") as conn:
        return conn.execute("SELECT count(*) FROM hub_inbox").fetchone()[0] >= published


def stats_figures(api):
    resp = api.get("/stats", params={"level": "county", "code": "341721", "period": YEAR})
    assert resp.status_code == 200, resp.text
    return resp.json()["figures"]


def client_details(api, ids):
    details = {}
    for client_id in ids:
        resp = api.get(f"/clients/{client_id}", params={"reveal": "id_number,phone"})
        assert resp.status_code == 200, resp.text
        details[client_id] = resp.json()
        assert "*" not in details[client_id]["id_number"]     # decrypted, not masked
    return details


def secrets_of(settings):
    """Every key and password of a hub, as text that must never be in a backup."""
    found = [settings.data_key, settings.jwt_secret, settings.service_secret]
    for service in settings.data_services():
        found += [settings.service_password("pg", service, ""),
                  settings.service_password("amqp", service, "")]
    return found


def backup_text(path):
    """Everything a backup holds, as text: the dumps through pg_restore (they are compressed),
    the other files as they are."""
    parts = []
    for file in sorted(path.iterdir()):
        if file.suffix == ".dump":
            parts.append(subprocess.run(["pg_restore", "--file", "-", str(file)], check=True,
                                        capture_output=True, text=True).stdout)
        parts.append(file.read_bytes().decode("utf-8", "replace"))
    return "\n".join(parts)


@pytest.fixture(scope="module")
def backed_up(tmp_path_factory):
    """A hub with data, backed up by `hub backup`; the hub is gone afterwards (a fresh machine
    has only the backup and the keys)."""
    source = test_settings(prefix=f"bka{uuid.uuid4().hex[:6]}")
    folder = tmp_path_factory.mktemp("backups")
    with running_hub(source, SERVICES) as hub:
        api, clients = make_data(hub)
        made = hub_cli(source, "subscriber", "create", "civil-affairs", "--events", "client.#")
        try:
            assert made.exit_code == 0, made.output
            before = {"clients": client_details(api, clients), "stats": stats_figures(api)}
            result = hub_cli(source, "backup", str(folder / "one"),
                             "--metrics-file", str(folder / "hub-backup.prom"))
            assert result.exit_code == 0, result.output
            print("\n" + result.output)
        finally:    # (the hub's clean-up leaves a subscriber's queues)
            subscribers.remove(BrokerAdmin.for_settings(source),
                               subscribers.user_name(source, "civil-affairs"))
    before["output"] = result.output
    before["queues"] = [q["name"] for q in json.loads(
        (folder / "one" / "broker.json").read_text())["queues"]]
    return source, folder, before


def test_a_backup_shows_progress_and_holds_every_database_the_broker_and_a_manifest(backed_up):
    source, folder, before = backed_up
    for service in SERVICES[:-1]:
        assert f"{service}: dumping {source.database_name(service)}" in before["output"]
    manifest = json.loads((folder / "one" / "manifest.json").read_text())
    assert manifest["prefix"] == source.db_prefix and manifest["county"]["code"] == "341721"
    assert set(manifest["files"]) == {f"{s}.dump" for s in data_services()} | {"broker.json"}
    assert manifest["services"]["intake"]["migration_head"] == "intake_0001_clients"
    assert manifest["tools"]["pg_dump"].startswith("pg_dump (PostgreSQL)")
    broker = json.loads((folder / "one" / "broker.json").read_text())
    assert [e["name"] for e in broker["exchanges"]] == [source.exchange]
    assert source.queue_name("visits") in before["queues"]
    assert all(q.startswith(source.db_prefix + ".") for q in before["queues"])
    assert {u["name"] for u in broker["users"]} == {f"{source.db_prefix}.{s}"
                                                    for s in SERVICES[:-1]}
    # a subscriber is named, not backed up: its user has a password
    assert broker["subscribers"] == [{"name": "civil-affairs", "patterns": ["client.#"]}]
    assert not [q for q in before["queues"] if ".sub." in q]


def test_a_backup_holds_no_key_or_password(backed_up):
    source, folder, _ = backed_up
    text = backup_text(folder / "one")
    assert "client_history" in text             # the dumps were read, as text
    for secret in secrets_of(source):
        assert secret not in text
    assert "password" not in (folder / "one" / "broker.json").read_text()


def test_a_backup_records_its_completion_for_the_alert(backed_up):
    source, folder, _ = backed_up
    text = (folder / "hub-backup.prom").read_text()
    samples = {s.name: s for f in text_string_to_metric_families(text) for s in f.samples}
    finished = datetime.fromisoformat(json.loads(
        (folder / "one" / "manifest.json").read_text())["finished_at"])
    assert samples[backups.METRIC].value == pytest.approx(finished.timestamp())
    assert samples[backups.METRIC].labels == {"prefix": source.db_prefix}
    alert = alert_expression("HubBackupTooOld")
    assert backups.METRIC in alert


def alert_expression(name):
    import yaml

    from hub.config import REPO_ROOT
    rules = yaml.safe_load((REPO_ROOT / "deploy/prometheus/rules/hub-alerts.yml").read_text())
    return next(r["expr"] for g in rules["groups"] for r in g["rules"] if r.get("alert") == name)


def test_a_backup_says_what_to_do_when_it_cannot_be_taken(backed_up, tmp_path):
    source, folder, _ = backed_up
    taken = hub_cli(source, "backup", str(folder / "one"))
    assert taken.exit_code == 1 and "not an empty directory" in taken.output
    no_tool = hub_cli(source, "backup", str(tmp_path / "a"), PATH=str(tmp_path))
    assert no_tool.exit_code == 1 and "pg_dump not found: install" in no_tool.output
    unreachable = hub_cli(source, "backup", str(tmp_path / "b"),
                          HUB_PG_DSN="host=127.0.0.1 port=1 user=postgres")
    assert unreachable.exit_code == 1 and "is PostgreSQL running" in unreachable.output
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.fixture
def target(backed_up):
    """A fresh hub's settings: another prefix, the same keys."""
    source, _, _ = backed_up
    settings = test_settings(prefix=f"bkb{uuid.uuid4().hex[:6]}", HUB_DATA_KEY=source.data_key,
                             HUB_JWT_SECRET=source.jwt_secret,
                             HUB_SERVICE_SECRET=source.service_secret)
    yield settings
    cleanup_hub(settings)


def databases_of(settings):
    with psycopg.connect(f"{settings.pg_dsn} dbname=postgres") as conn:
        return [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                           (settings.db_prefix + "\\_%",))]


def test_a_tampered_backup_or_a_wrong_key_is_refused_before_anything_changes(backed_up, target,
                                                                              tmp_path):
    _, folder, _ = backed_up
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(folder / "one"), str(copy)], check=True)
    wrong_key = hub_cli(target, "restore", str(copy),
                        HUB_DATA_KEY=test_settings().data_key)
    assert wrong_key.exit_code == 1
    assert "HUB_DATA_KEY does not decrypt the ID numbers" in wrong_key.output
    with open(copy / "stats.dump", "r+b") as fh:
        fh.seek(200)
        byte = fh.read(1)
        fh.seek(200)
        fh.write(bytes([byte[0] ^ 1]))
    tampered = hub_cli(target, "restore", str(copy))
    assert tampered.exit_code == 1 and "stats.dump does not match the manifest" in \
        tampered.output
    assert databases_of(target) == []
    assert not BrokerAdmin.for_settings(target).user_exists(f"{target.db_prefix}.intake")


def test_a_restored_hub_has_the_same_clients_figures_and_an_intact_audit_trail(backed_up,
                                                                               target):
    source, folder, before = backed_up
    result = hub_cli(target, "restore", str(folder / "one"))
    assert result.exit_code == 0, result.output
    print("\n" + result.output)
    assert "every file matches the manifest" in result.output
    assert "HUB_DATA_KEY decrypts the backup's ID numbers" in result.output
    assert "hub subscriber create civil-affairs --events 'client.#'" in result.output

    # the services' least-privilege users and the broker objects, under the new prefix
    admin = BrokerAdmin.for_settings(target)
    broker = json.loads((folder / "one" / "broker.json").read_text())
    for user in broker["users"]:
        name = target.db_prefix + user["name"][len(source.db_prefix):]
        permissions = admin.permissions(name)
        for kind, pattern in user["permissions"].items():
            assert permissions[kind] == pattern.replace(source.db_prefix, target.db_prefix)
    for queue in before["queues"]:
        renamed = target.db_prefix + queue[len(source.db_prefix):]
        assert admin.queue(renamed) is not None, renamed
    assert {(b["source"], b["routing_key"]) for b in admin.bindings(
        target.queue_name("visits"))} == {
        (target.exchange, b["routing_key"]) for b in broker["bindings"]
        if b["destination"] == source.queue_name("visits")}

    again = hub_cli(target, "restore", str(folder / "one"))
    assert again.exit_code == 1 and "already hold data" in again.output and "--force" in \
        again.output
    forced = hub_cli(target, "restore", "--force", str(folder / "one"))
    assert forced.exit_code == 0 and "(--force)" in forced.output, forced.output
    with psycopg.connect(target.database_dsn("intake")) as conn:   # the export and the restore
        assert [r[0] for r in conn.execute("SELECT action FROM hub_audit WHERE action LIKE "
                                           "'backup.%' ORDER BY seq")] == ["backup.create",
                                                                           "backup.restore"]

    with running_hub(target, SERVICES) as hub:
        api = hub.client()
        assert client_details(api, list(before["clients"])) == before["clients"]
        assert stats_figures(api) == before["stats"]
        verified = hub_cli(target, "audit", "verify")
        assert verified.exit_code == 0, verified.output
        assert verified.output.count("intact") == len(data_services())


def test_keeping_n_days_removes_only_older_dated_backups(tmp_path):
    now = datetime(2026, 3, 20, 2, 30, tzinfo=timezone.utc)
    for name in ("20260301T023000Z", "20260305T023000Z", "20260306T030000Z", "20260320T023000Z",
                 "keep-me", "20260301T023000Z.tar"):
        (tmp_path / name).mkdir()
    gone = backups.expired(tmp_path, 14, now, keep="20260320T023000Z")
    assert [p.name for p in gone] == ["20260301T023000Z", "20260305T023000Z"]


def test_a_backup_pushes_its_completion_to_a_pushgateway(tmp_path):
    """What the Kubernetes CronJob sends: the same metrics, PUT to the Pushgateway's API under
    the job shegong-hub-backup and the hub's prefix (a small HTTP server stands in for it)."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received = []

    class Pushgateway(BaseHTTPRequestHandler):
        def do_PUT(self):
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            received.append((self.path, body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Pushgateway)
    thread = threading.Thread(target=server.handle_request)
    thread.start()
    settings = test_settings(prefix="bkpush")
    finished = datetime(2026, 3, 12, 2, 31, tzinfo=timezone.utc)
    backups.record_success(settings, backups.Result(tmp_path, finished, 1234, 5.0),
                           pushgateway=f"http://127.0.0.1:{server.server_port}")
    thread.join()
    server.server_close()
    ((path, body),) = received
    assert path == "/metrics/job/shegong-hub-backup/prefix/bkpush"
    samples = {s.name: s.value for f in text_string_to_metric_families(body) for s in f.samples}
    assert samples[backups.METRIC] == finished.timestamp()
    assert samples["hub_backup_last_size_bytes"] == 1234

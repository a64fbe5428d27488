"""Backups that restore: `hub backup DIR` and `hub restore DIR`.

A backup is a directory of
  - `<service>.dump`: each service's database, by PostgreSQL's own pg_dump (custom format, -Fc),
    without owners or grants (they belong to the hub that restores it);
  - `broker.json`: this hub's broker definitions, read through the management API and kept to
    the hub's own prefix: its exchanges, queues and bindings, and the users of its own services
    with their permissions (names and permissions only: no password, no password hash); event
    subscribers are only named, with their patterns;
  - `manifest.json`, written last: the hub's prefix and county, when, each file's sha256 and
    size, each service's migrations, and the versions of the tools.
It never holds a key: not HUB_DATA_KEY, HUB_JWT_SECRET or HUB_SERVICE_SECRET, nor a service's
password. Whoever restores supplies them (var/hub.env or the environment).

`restore` checks before it changes anything: every file against the manifest, the migrations
against this version's, that the supplied HUB_DATA_KEY decrypts a client's ID number, and that
the target databases hold no data (unless forced). Then it creates the databases, runs
pg_restore, applies any newer migrations, makes the services' least-privilege roles and broker
users as `hub setup` does (tooling.privileges), and loads the broker definitions (renamed to the
target hub's prefix when it differs) before declaring the topology.

`--metrics-file` / `--pushgateway` record a successful backup's time as
hub_backup_last_success_timestamp_seconds, for the alert HubBackupTooOld.
"""
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from importlib import metadata
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from hub.broker_admin import BrokerAdmin, BrokerAdminError

FORMAT = 1
MANIFEST = "manifest.json"
BROKER_FILE = "broker.json"
DATED = re.compile(r"^\d{8}T\d{6}Z$")       # the sub-directories `--dated` makes
DATED_FORMAT = "%Y%m%dT%H%M%SZ"
METRIC = "hub_backup_last_success_timestamp_seconds"
PUSH_JOB = "shegong-hub-backup"


class BackupError(RuntimeError):
    """A backup or restore cannot go on; the message says what to do."""


def dump_file(service):
    return f"{service}.dump"


# -- PostgreSQL's client programs -----------------------------------------------------------------
def pg_tool(name):
    path = shutil.which(name)
    if not path:
        raise BackupError(f"{name} not found: install PostgreSQL's client programs, version 15 or "
                          "newer (Debian: apt-get install postgresql-client), or put them on PATH")
    return path


def pg_command(settings, service, program, *args):
    """`program` connecting to the service's database as the admin; the password, if the DSN
    has one, goes in the environment (PGPASSWORD), not on the command line."""
    info = conninfo_to_dict(settings.database_dsn(service))
    password = info.pop("password", None)
    env = {**os.environ, **({"PGPASSWORD": password} if password else {})}
    return [pg_tool(program), *args, "--dbname", make_conninfo(**info)], env


def run_pg(settings, service, program, *args):
    command, env = pg_command(settings, service, program, *args)
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{program} of {settings.database_name(service)} failed: "
                          f"{result.stderr.strip()[-800:]}")


def tool_version(program):
    return subprocess.run([pg_tool(program), "--version"], capture_output=True,
                          text=True).stdout.strip()


def connect(settings, service=None):
    """The admin's connection to the service's database (None: the server's `postgres`)."""
    name = settings.database_name(service) if service else "postgres"
    try:
        return psycopg.connect(f"{settings.pg_dsn} dbname={name}", autocommit=True,
                               connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise BackupError(f"cannot reach {name} ({str(exc).strip().splitlines()[0]}): "
                          "is PostgreSQL running, "
                          "HUB_PG_DSN right, and the hub set up (`hub setup`)?") from None


def applied_migrations(conn):
    """The migration ids applied to a database, oldest first."""
    return [r[0] for r in conn.execute(
        "SELECT migration_id FROM _yoyo_migration ORDER BY applied_at_utc, migration_id")]


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -- the broker ------------------------------------------------------------------------------------
def owned(prefix, name):
    return name == prefix or name.startswith(prefix + ".")


def broker_definitions(settings, admin, services):
    """This hub's part of the broker: objects named `<prefix>.…`, and its services' users with
    their permissions (never a password or its hash). Event subscribers are named only, with
    their patterns: their users hold passwords, so a restore asks for them to be made again."""
    from tooling import subscribers
    prefix = settings.db_prefix
    everything = admin.definitions()

    def ours(name):
        return owned(prefix, name) and not name.startswith(subscribers.user_name(settings, ""))

    users = []
    for service in services:
        name = settings.service_amqp_user(service)
        permissions = admin.permissions(name)
        if permissions is not None:
            users.append({"service": service, "name": name,
                          "given": settings.amqp_user_given(service),
                          "permissions": {k: permissions[k]
                                          for k in ("configure", "write", "read")}})
    return {
        "vhost": admin.vhost,
        "prefix": prefix,
        "exchanges": [e for e in everything.get("exchanges", []) if ours(e["name"])],
        "queues": [q for q in everything.get("queues", []) if ours(q["name"])],
        "bindings": [b for b in everything.get("bindings", [])
                     if ours(b["source"]) and ours(b["destination"])],
        "users": users,
        "subscribers": [{"name": sub["name"], "patterns": list(sub["patterns"])}
                        for sub in subscribers.list_subscribers(settings, admin)],
    }


def renamed(definitions, prefix):
    """The definitions with every name of the backed-up hub's prefix given `prefix` instead."""
    old = definitions["prefix"]

    def name(value):
        return prefix + value[len(old):] if owned(old, value) else value

    return {
        "exchanges": [{**e, "name": name(e["name"])} for e in definitions["exchanges"]],
        "queues": [{**q, "name": name(q["name"])} for q in definitions["queues"]],
        "bindings": [{**b, "source": name(b["source"]), "destination": name(b["destination"])}
                     for b in definitions["bindings"]],
    }


# -- backup ----------------------------------------------------------------------------------------
@dataclass
class Result:
    path: Path
    finished_at: datetime
    size: int
    seconds: float


def backup(settings, target, echo=print, admin=None, audit=None):
    """Write a backup of the hub into `target` (a new or empty directory); returns a Result.

    `audit(target)` records the export in the audit trail once every check has passed (before
    the dumps, so the backup holds its own entry)."""
    target = Path(target)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupError(f"{target} is not an empty directory: give a new or empty one (a "
                          "backup never overwrites another), or use --dated with a parent "
                          "directory")
    services = settings.data_services()
    pg_tool("pg_dump")
    started, clock = datetime.now(timezone.utc), time.monotonic()
    heads, server = {}, ""
    for service in services:        # every database answers before anything is written
        with connect(settings, service) as conn:
            heads[service] = applied_migrations(conn)
            server = conn.execute("SHOW server_version").fetchone()[0]
    admin = admin or BrokerAdmin.for_settings(settings)
    if audit:
        audit(target)
    made = not target.exists()
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        files = {}
        for service in services:
            path = target / dump_file(service)
            echo(f"{service}: dumping {settings.database_name(service)} …")
            run_pg(settings, service, "pg_dump", "--format=custom", "--no-owner",
                   "--no-privileges", "--file", str(path))
            files[path.name] = describe(path)
            echo(f"{service}: {path.name} {files[path.name]['size']:,} bytes, "
                 f"sha256 {files[path.name]['sha256'][:12]}…")
        echo("broker: reading the definitions of "
             f"{settings.exchange} and its queues from the management API …")
        try:
            definitions = broker_definitions(settings, admin, services)
            rabbitmq = admin.overview().get("rabbitmq_version", "")
        except BrokerAdminError as exc:
            raise BackupError(f"cannot read the broker's definitions: {exc}") from None
        (target / BROKER_FILE).write_text(json.dumps(definitions, indent=2, sort_keys=True))
        files[BROKER_FILE] = describe(target / BROKER_FILE)
        echo(f"broker: {len(definitions['exchanges'])} exchange(s), "
             f"{len(definitions['queues'])} queue(s), {len(definitions['bindings'])} "
             f"binding(s), {len(definitions['users'])} service user(s), "
             f"{len(definitions['subscribers'])} subscriber(s) named")
        finished = datetime.now(timezone.utc)
        manifest = {
            "format": FORMAT,
            "prefix": settings.db_prefix,
            "county": {"code": settings.county.code, "name": settings.county.name},
            "started_at": started.isoformat(),
            "finished_at": finished.isoformat(),
            "services": {s: {"database": settings.database_name(s), "file": dump_file(s),
                             "migrations": heads[s], "migration_head": (heads[s] or [None])[-1]}
                         for s in services},
            "files": files,
            "tools": {"shegong-hub": metadata.version("shegong-hub"),
                      "python": platform.python_version(),
                      "pg_dump": tool_version("pg_dump"), "postgresql": server,
                      "rabbitmq": rabbitmq},
        }
        partial = target / (MANIFEST + ".partial")
        partial.write_text(json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False))
        partial.chmod(0o600)
        partial.replace(target / MANIFEST)      # the manifest last: its presence means complete
    except BaseException:
        for path in target.iterdir():
            path.unlink()
        if made:
            target.rmdir()
        raise
    size = sum(f["size"] for f in files.values())
    echo(f"backup complete: {target} ({size:,} bytes); it holds no key: keep HUB_DATA_KEY "
         "(var/hub.env) safe elsewhere, a restore needs it")
    return Result(target, finished, size, time.monotonic() - clock)


def describe(path):
    path.chmod(0o600)       # the dumps hold names and phone numbers: the backup's owner only
    return {"sha256": sha256_of(path), "size": path.stat().st_size}


def dated_backup(settings, root, keep_days=None, echo=print, audit=None):
    """A backup into a new `<root>/<UTC time>` directory; then, with `keep_days`, remove the
    dated backups in `root` older than that (never the one just made)."""
    root = Path(root)
    name = datetime.now(timezone.utc).strftime(DATED_FORMAT)
    result = backup(settings, root / name, echo, audit=audit)
    if keep_days is not None:
        for old in expired(root, keep_days, result.finished_at, keep=name):
            shutil.rmtree(old)
            echo(f"removed {old} (older than {keep_days} days)")
    return result


def expired(root, keep_days, now, keep):
    limit = now - timedelta(days=keep_days)
    for path in sorted(root.iterdir()):
        if path.is_dir() and DATED.match(path.name) and path.name != keep:
            made = datetime.strptime(path.name, DATED_FORMAT).replace(tzinfo=timezone.utc)
            if made < limit:
                yield path


def record_success(settings, result, metrics_file=None, pushgateway=None):
    """Write the backup's completion for Prometheus: a node_exporter textfile (written whole,
    then renamed into place) and/or a push to a Pushgateway."""
    from prometheus_client import CollectorRegistry, Gauge, push_to_gateway, write_to_textfile
    registry = CollectorRegistry()
    labels = {"prefix": settings.db_prefix}
    for metric, value, text in (
            (METRIC, result.finished_at.timestamp(),
             "When the last complete backup of the hub finished (Unix time)"),
            ("hub_backup_last_size_bytes", result.size, "Size of the last complete backup"),
            ("hub_backup_last_duration_seconds", result.seconds, "How long the last backup took")):
        Gauge(metric, text, list(labels), registry=registry).labels(**labels).set(value)
    if metrics_file:
        Path(metrics_file).parent.mkdir(parents=True, exist_ok=True)
        write_to_textfile(str(metrics_file), registry)
    if pushgateway:
        push_to_gateway(pushgateway, job=PUSH_JOB, grouping_key=labels, registry=registry)


# -- restore ---------------------------------------------------------------------------------------
def read_manifest(source):
    """The manifest of the backup in `source`, after checking every file it lists."""
    source = Path(source)
    path = source / MANIFEST
    if not path.is_file():
        inside = sorted(p.name for p in source.iterdir() if p.is_dir() and DATED.match(p.name)) \
            if source.is_dir() else []
        if inside:
            raise BackupError(f"{source} holds dated backups, not one: name one of them "
                              f"(the newest: {source / inside[-1]})")
        raise BackupError(f"{path} not found: {source} is not a complete backup (a backup "
                          "writes its manifest last)")
    try:
        manifest = json.loads(path.read_text())
    except ValueError as exc:
        raise BackupError(f"{path} is not valid JSON ({exc}): the backup is damaged") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{path}: backup format {manifest.get('format')!r}, this version "
                          f"reads format {FORMAT}")
    wanted = {dump_file(s) for s in manifest["services"]} | {BROKER_FILE}
    if not wanted <= set(manifest["files"]):
        raise BackupError(f"{path} lists no checksum for {sorted(wanted - set(manifest['files']))}")
    for name, expected in sorted(manifest["files"].items()):
        file = source / name
        if not file.is_file():
            raise BackupError(f"{file} is missing: the backup is incomplete; restore refused, "
                              "nothing was changed")
        if file.stat().st_size != expected["size"] or sha256_of(file) != expected["sha256"]:
            raise BackupError(f"{file} does not match the manifest's sha256 and size: the "
                              "backup is damaged or was altered; restore refused, nothing was "
                              "changed")
    return manifest


def check_migrations(manifest):
    """Refuse a backup made by a newer version (migrations this version does not know)."""
    from yoyo import read_migrations

    from hub.migrate import migration_dirs
    for service, info in manifest["services"].items():
        known = {m.id for m in read_migrations(*migration_dirs(service))}
        unknown = [m for m in info["migrations"] if m not in known]
        if unknown:
            raise BackupError(f"{service}'s database has migrations this version does not know "
                              f"({', '.join(unknown)}): restore it with the version that made "
                              f"the backup (shegong-hub {manifest['tools']['shegong-hub']})")


def first_client(dump):
    """(id, id_number_enc, id_number_hash) of the first client in intake's dump, read with
    pg_restore's data-only output of the table (COPY text); None when it has no client."""
    command = [pg_tool("pg_restore"), "--data-only", "--table", "clients", "--file", "-",
               str(dump)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          text=True) as proc:
        columns = None
        try:
            for line in proc.stdout:
                if columns is None:
                    match = re.match(r"^COPY \S*clients \((.*)\) FROM stdin;$", line)
                    if match:
                        columns = [c.strip().strip('"') for c in match.group(1).split(",")]
                    continue
                if line.startswith("\\."):
                    return None
                row = dict(zip(columns, line.rstrip("\n").split("\t")))
                return (row["id"], bytes.fromhex(row["id_number_enc"].removeprefix("\\\\x")),
                        row["id_number_hash"])
        finally:
            proc.kill()
    return None


def check_data_key(settings, source, echo=print):
    """Refuse a HUB_DATA_KEY that does not decrypt (and find) a client's ID number."""
    import uuid

    from cryptography.exceptions import InvalidTag

    from hub.crypto import PersonalDataCipher
    if "intake" not in settings.data_services():
        return
    client = first_client(Path(source) / dump_file("intake"))
    if client is None:
        echo("intake: no client in the backup to check HUB_DATA_KEY against")
        return
    client_id, blob, lookup = client
    box = PersonalDataCipher(settings.data_key)
    try:
        number = box.decrypt(blob, uuid.UUID(client_id).bytes)
    except (InvalidTag, ValueError):
        number = None
    if number is None or box.lookup_hash(number) != lookup:
        raise BackupError("HUB_DATA_KEY does not decrypt the ID numbers in this backup: it is "
                          "not the key of the hub that was backed up. Supply that hub's key "
                          "(var/hub.env or the environment); restore refused, nothing was changed")
    echo("intake: HUB_DATA_KEY decrypts the backup's ID numbers")


def holds_data(settings, service):
    """Whether the service's database exists with any table in it."""
    with connect(settings) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                            (settings.database_name(service),)).fetchone():
            return False
    with connect(settings, service) as conn:
        return conn.execute("SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname NOT IN "
                            "('pg_catalog', 'information_schema'))").fetchone()[0]


def restore(settings, source, force=False, echo=print, admin=None):
    """Rebuild the hub from the backup in `source`: see the module's docstring."""
    from hub import topology
    from hub.config import MissingCredentials
    from hub.db import create_database, drop_database
    from hub.migrate import migrate
    from tooling import privileges
    source = Path(source)
    pg_tool("pg_restore")
    manifest = read_manifest(source)
    echo(f"{source}: every file matches the manifest (hub {manifest['prefix']}, county "
         f"{manifest['county']['code']}, {manifest['finished_at']})")
    if manifest["county"]["code"] != settings.county.code:
        raise BackupError(f"the backup is of county {manifest['county']['code']}, this hub's "
                          f"county is {settings.county.code}: set COUNTY_CONFIG to the "
                          "backed-up county's file")
    missing = [s for s in manifest["services"] if s not in settings.data_services()]
    if missing:
        raise BackupError(f"the backup has {', '.join(missing)}, which this hub does not run "
                          "(HUB_SERVICES)")
    services = [s for s in settings.data_services() if s in manifest["services"]]
    check_migrations(manifest)
    try:        # the services' own credentials must be known before any role is made
        for service in services:
            settings.service_pg_dsn(service)
            settings.service_amqp_uri(service)
    except MissingCredentials as exc:
        raise BackupError(str(exc)) from None
    check_data_key(settings, source, echo)
    occupied = [settings.database_name(s) for s in services if holds_data(settings, s)]
    if occupied and not force:
        raise BackupError(f"{', '.join(occupied)} already hold data: restore into a fresh hub, "
                          "or give --force to drop them first (their data is lost); stop the "
                          "hub's services before either")
    admin = admin or BrokerAdmin.for_settings(settings)
    for service in services:
        if settings.database_name(service) in occupied:
            drop_database(settings, service)
            echo(f"{service}: dropped {settings.database_name(service)} (--force)")
        create_database(settings, service)
        echo(f"{service}: restoring {settings.database_name(service)} …")
        try:
            run_pg(settings, service, "pg_restore", "--no-owner", "--no-privileges",
                   "--exit-on-error", "--single-transaction", str(source / dump_file(service)))
        except BackupError as exc:
            raise BackupError(f"{exc}\nOnce the cause is fixed, run `hub restore --force` "
                              "again") from None
        applied = migrate(settings, service)
        echo(f"{service}: restored ({applied} newer migration(s) applied)")
    try:
        for line in privileges.provision(settings, services, admin=admin):
            echo(line)
        definitions = json.loads((source / BROKER_FILE).read_text())
        admin.load_definitions(renamed(definitions, settings.db_prefix))
    except (privileges.PrivilegeError, BrokerAdminError) as exc:
        raise BackupError(f"the databases are restored, the broker not: {exc}; fix it, then "
                          "run `hub setup`") from None
    with settings.broker_connection(connect_timeout=5) as conn:
        topology.declare(settings, conn.default_channel)
    echo(f"broker: {len(definitions['exchanges'])} exchange(s), "
         f"{len(definitions['queues'])} queue(s), {len(definitions['bindings'])} binding(s) "
         f"loaded as {settings.db_prefix}.…; the services' users made")
    for sub in definitions["subscribers"]:
        echo(f"subscriber {sub['name']}: not in a backup (its user has a password); make it "
             f"again and give its system the new URI: hub subscriber create {sub['name']} "
             f"--events '{','.join(sub['patterns'])}'")
    echo("restore complete: start the services (`hub start`, or systemd/Kubernetes). Events "
         "that waited in the queues are not in a backup: `hub events resend SERVICE --events "
         f"'#' --since {manifest['started_at'][:10]}` (earlier if a service was behind) sends "
         "them again; what a service already had, it skips")
    return manifest

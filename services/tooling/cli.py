"""`hub`: the operators' command line for a county hub (and for the province's aggregator).

Each command's --help says more; docs/operations.md walks through running a hub.
"""
import os
import subprocess
import sys
import time
from pathlib import Path

import click

from hub.auth import ROLES
from hub.manifest import load, manifests
from tooling import supervisor
from tooling.environment import ENV_FILE, VAR, load_env_file, settings


class HubGroup(click.Group):
    """A group whose command table gives each command's whole first sentence, wrapped (and
    so do the groups made under it)."""
    group_class = type

    def format_commands(self, ctx, formatter):
        rows = [(name, command.get_short_help_str(limit=300))
                for name in self.list_commands(ctx)
                if (command := self.get_command(ctx, name)) and not command.hidden]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=HubGroup, help=__doc__, context_settings={"max_content_width": 100})
@click.version_option(package_name="shegong-hub", prog_name="hub")
@click.pass_context
def main(ctx):
    ctx.obj = settings      # the services' own commands read the settings through it


@main.command()
def secrets():
    """Generate the hub's keys into var/hub.env, once (existing keys are kept)."""
    from hub.auth import new_secret
    from hub.crypto import new_master_key
    load_env_file()
    wanted = {"HUB_DATA_KEY": new_master_key, "HUB_JWT_SECRET": new_secret,
              "HUB_SERVICE_SECRET": new_secret}
    new = {k: make() for k, make in wanted.items() if not os.environ.get(k)}
    if new:
        ENV_FILE.parent.mkdir(parents=True, exist_ok=True)
        with open(ENV_FILE, "a") as fh:
            os.chmod(ENV_FILE, 0o600)
            for k, v in new.items():
                fh.write(f"{k}={v}\n")
        click.echo(f"wrote {', '.join(new)} to {ENV_FILE} (keep this file safe and backed up)")


@main.command()
def setup():
    """Create each service's database, apply migrations, make each service's own database role
    and broker user, and declare the broker topology."""
    from hub.broker_admin import BrokerAdminError
    from hub.config import MissingCredentials
    from hub.migrate import migrate
    from tooling import privileges
    s = settings()
    for service in s.data_services():
        applied = migrate(s, service)
        click.echo(f"{service}: database {s.database_name(service)} ready "
                   f"({applied} migration(s) applied)")
    try:
        for line in privileges.provision(s, s.data_services()):
            click.echo(line)
    except (MissingCredentials, privileges.PrivilegeError, BrokerAdminError) as exc:
        raise click.ClickException(str(exc))
    declared = declare_topology(s)
    click.echo(f"broker: exchange {s.exchange} and queues {', '.join(declared) or '(none)'} declared")


def declare_topology(s):
    from hub import topology
    with s.broker_connection(connect_timeout=5) as conn:
        return topology.declare(s, conn.default_channel)


SERVICE_NAMES = click.Choice(list(manifests()))


@main.command()
@click.argument("services", nargs=-1, required=True, type=SERVICE_NAMES)
def serve(services):
    """Run SERVICES in the foreground (systemd, containers)."""
    from hub.config import MissingCredentials
    from hub.runner import run
    s = settings()
    try:    # each service connects as itself: say now, not from inside nameko, if it cannot
        for service in (n for n in services if manifests()[n].database):
            s.service_pg_dsn(service)
            s.service_amqp_uri(service)
    except MissingCredentials as exc:
        raise click.ClickException(str(exc))
    run(services, s)


def pid_file(service):
    return supervisor.pid_file(VAR, service)


def running_pid(service):
    """The pid of `service`'s process if it runs (its pid file is the supervisor's)."""
    return supervisor.live_pid(pid_file(service))


@main.command()
@click.option("--wait", default=60, help="seconds to wait for the hub to be ready")
def start(wait):
    """Start every service in the background under a supervisor that starts again one that
    dies, and wait until the hub is ready."""
    s = settings()
    services = (*s.data_services(), "gateway")
    pid = supervisor.running(VAR)
    if pid:
        click.echo(f"supervisor: already running (pid {pid}); `hub status` shows the services")
    else:
        launch_supervisor(services)
    if not wait_ready(s, wait):
        raise click.ClickException(f"the hub is not ready after {wait}s; see `hub status` and "
                                   f"the logs in {VAR / 'log'}")


def launch_supervisor(services):
    """`hub supervise SERVICES` as a detached process; returns once it has started them."""
    try:
        supervisor.check_can_start(VAR, services)
    except supervisor.SupervisorError as exc:
        raise click.ClickException(str(exc))
    log = supervisor.log_file(VAR, "supervisor")
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:        # a traceback, should it fail, goes beside its log lines
        proc = subprocess.Popen([sys.executable, "-m", "tooling.cli", "supervise", *services],
                                env={**os.environ, "HUB_VAR_DIR": str(VAR)}, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    deadline = time.monotonic() + 30
    while (state := supervisor.read_state(VAR)) is None or state["pid"] != proc.pid:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise click.ClickException(f"the supervisor did not start the services: see {log}")
        time.sleep(0.1)
    click.echo(f"supervisor: started (pid {proc.pid}, log {log}); it restarts a service that dies")
    for service, entry in state["services"].items():
        click.echo(f"{service}: started (pid {entry['pid']}, log "
                   f"{supervisor.log_file(VAR, service)})")


def wait_ready(s, seconds):
    import urllib.request
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(s.service_url("gateway") + "/api/v1/health", timeout=2):
                return True
        except Exception:
            time.sleep(0.5)
    return False


@main.command()
def stop():
    """Stop the supervisor `hub start` started and its services, restarting none (and any
    service left running without a supervisor)."""
    was_running = [x for x in manifests() if running_pid(x)]
    pid = supervisor.running(VAR)
    if pid:     # it stops its services (SIGTERM, SIGKILL after a grace period), then itself
        killed = supervisor.terminate([pid], supervisor.STOP_GRACE + 10, supervisor.is_hub_process)
        click.echo(f"supervisor: {'killed, as it did not stop' if killed else 'stopped'} (pid {pid})")
    strays = [p for p in map(running_pid, manifests()) if p]   # its supervisor was killed
    supervisor.terminate(strays, supervisor.STOP_GRACE, supervisor.is_hub_process)
    for name in (*manifests(), "supervisor"):
        if name in was_running:
            click.echo(f"{name}: stopped")
        pid_file(name).unlink(missing_ok=True)


@main.command()
def status():
    """Which services run, how often the supervisor restarted each and why, and whether the
    hub is ready."""
    s = settings(keys=False)
    state = supervisor.read_state(VAR)
    if state:
        click.echo(f"supervisor running, pid {state['pid']}, since {state['since']}, log "
                   f"{supervisor.log_file(VAR, 'supervisor')}")
    elif any(map(running_pid, manifests())):
        click.echo("supervisor NOT running: a service that dies stays down; `hub stop`, then "
                   "`hub start`")
    else:
        click.echo("supervisor stopped (`hub start` starts it and the services)")
    for service in manifests():
        pid = running_pid(service)
        entry = (state or {}).get("services", {}).get(service)
        what = f"running, pid {pid}" if pid else (entry or {}).get("state", "stopped")
        details = f"  {supervisor.status_line(entry)}" if entry else ""
        click.echo(f"{service:10} {what}  {s.service_url(service)}{details}")
    click.echo("hub: " + ("ready" if wait_ready(s, 1) else "NOT ready"))


@main.command()
@click.argument("services", nargs=-1, required=True, type=SERVICE_NAMES)
def supervise(services):
    """Run SERVICES as `hub serve` processes, starting again one that dies, until SIGTERM
    (`hub start` runs this in the background; its log is var/log/supervisor.log)."""
    try:
        supervisor.Supervisor(services, VAR).run()
    except supervisor.SupervisorError as exc:
        raise click.ClickException(str(exc))


@main.command("front-config")
@click.option("--listen", default="80", show_default=True,
              help="nginx `listen` value: a port, or address:port")
def front_config(listen):
    """Print the nginx configuration of the hub's front door (for nginx's http context): each
    API path straight to its service, the rest to the gateway (docs/operations.md)."""
    from tooling.front import nginx_config
    click.echo(nginx_config(settings(keys=False), listen), nl=False)


@main.group()
def token():
    """Bearer tokens for the API."""


@token.command("create")
@click.option("--role", type=click.Choice(ROLES), default="county_admin", show_default=True)
@click.option("--subject", default="admin", show_default=True, help="who the token is for")
@click.option("--township", default=None, help="township code, for station roles")
@click.option("--days", default=30, show_default=True)
def token_create(role, subject, township, days):
    """Print a signed token."""
    import jwt

    from hub.auth import issue_token
    s = settings()
    try:
        token = issue_token(s, subject, role, township=township, ttl_seconds=days * 86400)
    except ValueError as exc:
        raise click.ClickException(str(exc))
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    _audit_operator(s, "token.issue", f"token/{jti}",
                    {"subject": subject, "role": role, "township": township, "days": days})
    click.echo(token)
    click.echo(f"token id (for `hub token revoke --jti`): {jti}", err=True)


@token.command("revoke")
@click.option("--jti", default=None, help="the id of one token (its jti claim)")
@click.option("--subject", default=None, help="revoke every token issued so far to this subject")
@click.option("--reason", default="", help="why (kept with the revocation)")
def token_revoke(jti, subject, reason):
    """Revoke a token, or all of a subject's tokens; services refuse them within seconds."""
    from hub.auth import revoke
    s = settings()
    try:
        revoke(s, jti=jti, subject=subject, reason=reason)
    except ValueError as exc:
        raise click.ClickException(str(exc))
    _audit_operator(s, "token.revoke", f"token/{jti}" if jti else f"subject/{subject}",
                    {"reason": reason})
    click.echo(f"revoked {'token ' + jti if jti else 'every token of ' + subject} in "
               f"{', '.join(s.data_services())}")


def _audit_operator(s, action, target, detail=None):
    """Record an operator's command once: in the trail of the hub's first service (intake in a
    county, stats at the province), which the merged trail (GET /api/v1/audit) shows."""
    import psycopg
    from psycopg.rows import dict_row

    from hub import audit
    from hub.db import UnitOfWork, each_database
    entry = audit.operator_entry(action, target, detail)
    try:
        for service, conn in each_database(s, s.data_services()[0], row_factory=dict_row):
            unit = UnitOfWork(conn, s.event_source(service))
            audit.append(unit, [entry])
            unit.flush()
    except psycopg.OperationalError as exc:
        raise click.ClickException(f"cannot write the audit trail ({exc}); is the hub set up "
                                   "(`hub setup`) and PostgreSQL running?")


@main.group("audit")
def audit_group():
    """The audit trail of reads of personal details, changes, exports and refusals."""


@audit_group.command("verify")
@click.option("--service", default=None, help="only this service")
def audit_verify(service):
    """Walk each service's hash chain; exit 1 if an entry was altered, removed or inserted."""
    from hub import audit
    from hub.db import each_database
    s = settings(keys=False)
    broken = False
    for name, conn in each_database(s, service):
        result = audit.verify(conn)
        if result.intact:
            click.echo(f"{name:10} intact ({result.entries} entries)")
        else:
            broken = True
            click.echo(f"{name:10} BROKEN ({result.entries} entries): " + "; ".join(result.problems))
    if broken:
        raise SystemExit(1)


class ImportGroup(HubGroup):
    """`hub import KIND FILE`: a command for each spreadsheet import a service declares (its
    manifest's importers), loaded only when `hub import` is asked for."""

    @staticmethod
    def importers():
        return {imp.kind: imp for m in manifests().values() for imp in map(load, m.importers)}

    def list_commands(self, ctx):
        return sorted(self.importers())

    def get_command(self, ctx, name):
        importer = self.importers().get(name)
        return import_command(importer) if importer else None


def import_command(importer):
    @click.command(importer.kind, help=importer.help)
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    @click.option("--report", type=click.Path(dir_okay=False), default=None,
                  help="write the rejected rows (line, field, reason) to this CSV file")
    @click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
                  help="the language of the summary and the report: Chinese or English")
    def command(path, report, lang, **options):
        from hub.i18n import negotiate, translate
        from hub.sheets import SheetError
        locale = negotiate(lang)
        try:
            summary = importer.run(settings(), path, report_path=report, progress=True,
                                   locale=locale, options=options)
        except SheetError as exc:
            raise click.ClickException(translate(exc.args[0] if exc.args else str(exc), locale))
        click.echo(summary.describe())
        if summary.rejected:
            raise SystemExit(1)
    for flag, help_text in importer.options.items():    # the import's own flags (--complete)
        command = click.option(f"--{flag}", is_flag=True, help=help_text)(command)
    return command


@main.group("import", cls=ImportGroup)
def import_():
    """Load a county's existing spreadsheets (CSV or XLSX, Chinese or English headers)."""


@main.group()
def events():
    """Events: the contract, parked ones (list, replay), and resending published ones."""


@events.command("contract")
@click.option("--write", is_flag=True, help="regenerate docs/events/asyncapi.json")
def events_contract(write):
    """Check (or --write) the AsyncAPI document of the hub's events."""
    from tooling import asyncapi
    document = asyncapi.build_document()
    committed = asyncapi.committed_document()
    breaks = asyncapi.breaking_changes(committed, document) if committed else []
    if breaks:
        raise click.ClickException("incompatible change to a published event version; publish "
                                   "a new version instead:\n  " + "\n  ".join(breaks))
    if write:
        asyncapi.CONTRACT_PATH.parent.mkdir(parents=True, exist_ok=True)
        asyncapi.CONTRACT_PATH.write_text(asyncapi.render(document), encoding="utf-8")
        click.echo(f"wrote {asyncapi.CONTRACT_PATH} ({len(document['channels'])} event types)")
    elif committed is None or asyncapi.render(committed) != asyncapi.render(document):
        raise click.ClickException("docs/events/asyncapi.json is out of date: run "
                                   "`hub events contract --write` and commit it")
    else:
        click.echo(f"the event contract is up to date ({len(document['channels'])} event types)")


@events.command("parked")
@click.option("--service", default=None, help="only this service")
def events_parked(service):
    """List parked events (id, type, attempts, last error)."""
    from tooling.operations import parked_events
    s = settings()
    rows = parked_events(s, service)
    for row in rows:
        click.echo(f"{row['service']:10} {row['event_id']} {row['type']:28} "
                   f"attempts={row['attempts']} last_failed={row['last_failed_at']:%Y-%m-%d %H:%M} "
                   f"error={row['last_error'][:120]}")
    click.echo(f"{len(rows)} parked event(s)")


@main.command()
@click.option("--older-than", "days", type=click.IntRange(1), default=None,
              help="days (default: 90 for processed-event ids, 7 for idempotency keys, 30 for "
                   "ended sessions)")
@click.option("--service", default=None, help="only this service")
def prune(days, service):
    """Delete old processed-event ids, idempotency keys, expired revocations and ended sessions
    (run daily, e.g. from cron)."""
    from tooling.operations import prune as prune_tables
    for (name, table), n in prune_tables(settings(keys=False), days, service).items():
        click.echo(f"{name:10} {table:16} {n} row(s) deleted")


@events.command("replay")
@click.argument("event_ids", nargs=-1)
@click.option("--all", "replay_all", is_flag=True, help="replay every parked event")
@click.option("--service", default=None, help="only this service")
def events_replay(event_ids, replay_all, service):
    """Put parked events back for a fresh round of attempts."""
    from tooling.operations import replay_parked
    if not event_ids and not replay_all:
        raise click.ClickException("name the event ids to replay, or --all")
    n = replay_parked(settings(), service, None if replay_all else list(event_ids))
    click.echo(f"{n} event(s) queued for replay; `hub events parked` shows what is still parked")


from tooling.subscriber_commands import (  # noqa: E402
    resend_start,
    run_action,
    subscriber_group,  # (hub subscriber …)
)


@events.command("resend")
@click.argument("service")
@click.option("--events", "patterns", required=True, metavar="PATTERNS",
              help="event types or topic patterns, comma-separated (e.g. 'worker.#')")
@resend_start
def events_resend(service, patterns, since, after_event, quiet):
    """Publish again into SERVICE's queue the events of PATTERNS it takes, already published
    (e.g. after an upgrade that made it take a type it did not take before). It ignores those
    it has had: they keep their CloudEvents id."""
    from tooling import resend
    s = settings(keys=False)
    moment = run_action(resend.parse_since, since) if since else None
    sent = run_action(resend.to_service, s, service, patterns, since=moment,
                      after_event=after_event, progress=not quiet)
    click.echo(f"resent {sent} event(s) into {s.queue_name(service)}")

main.add_command(subscriber_group)
main.add_command(load("tooling.deploy_commands:deploy_group"))    # (hub deploy …)
main.add_command(load("tooling.province_demo:province_demo_group"))    # (make province)
for _manifest in manifests().values():      # the services' own commands (hub stats …)
    for _command in _manifest.commands:
        main.add_command(load(_command))


def admin_token(s):
    from hub.auth import issue_token
    return s.admin_token or issue_token(s, "admin", "county_admin")


def api_base(s):
    return s.service_url("gateway") + "/api/v1"


@main.command()
@click.option("--year", "a_year", is_flag=True,
              help="also a year of work: clients registered over the past year, their visits, "
                   "donations and allocations, volunteers, activities (`make province`)")
def demo(a_year):
    """Load the demo data set through the API (safe to run twice)."""
    from tooling import demo as demo_data
    s = settings()
    created, existing = demo_data.load(api_base(s), admin_token(s), s.county)
    click.echo(f"demo data: {created} client(s) registered, {existing} already there")
    if a_year:
        from tooling.demo_year import DemoError, load_year
        try:
            load_year(api_base(s), admin_token(s), s.county, progress=click.echo)
        except DemoError as exc:
            raise click.ClickException(str(exc)) from None


@main.command()
def welcome():
    """Print where the API is and a token to call it with."""
    s = settings()
    token = admin_token(s)
    source = "HUB_ADMIN_TOKEN" if s.admin_token else "generated, valid 30 days"
    click.echo(f"""
Shegong Hub for {s.county.name} ({s.county.code}) is running.
  API base URL : {api_base(s)}
  OpenAPI      : {api_base(s)}/openapi.json
  admin token  : {token}
                 ({source})
Try:
  curl -H "Authorization: Bearer {token}" {api_base(s)}/clients
Stop with `make stop`; logs are in var/log/.
A whole province (two prefectures of two counties each, linked by shovels): `make province`.""")


@main.command()
@click.option("--force", is_flag=True, envvar="FORCE", help="do not ask")
def reset(force):
    """Drop the hub's databases, its services' users and broker objects, and its event
    subscribers (asks first)."""
    from hub import topology
    from hub.broker_admin import BrokerAdminError
    from hub.db import drop_database
    from tooling import privileges, subscribers
    s = settings(keys=False)
    names = ", ".join(s.database_name(x) for x in s.data_services())
    if not force and not click.confirm(f"Drop databases {names}, the services' users, the event "
                                       f"subscribers and exchange {s.exchange} with its queues? "
                                       "All hub data is lost", default=False):
        raise click.Abort()
    for service in s.data_services():
        drop_database(s, service)
    try:
        privileges.drop(s, s.data_services())
        admin = subscribers.broker_admin(s)
        gone = [sub["user"] for sub in subscribers.list_subscribers(s, admin)]
        for user in gone:
            subscribers.remove(admin, user)
    except BrokerAdminError as exc:
        raise click.ClickException(f"the databases are dropped, the broker users not: {exc}")
    with s.broker_connection(connect_timeout=5) as conn:
        topology.delete(s, conn.default_channel)
    click.echo(f"dropped {names}, the services' users, {len(gone)} subscriber(s) and the broker "
               f"objects of {s.exchange}")


@main.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--dated", is_flag=True,
              help="DIRECTORY is a parent: write into a new <UTC time> directory inside it")
@click.option("--keep-days", type=click.IntRange(1), default=None,
              help="with --dated: then remove the dated backups older than this")
@click.option("--metrics-file", type=click.Path(dir_okay=False), default=None,
              help="write hub_backup_last_success_timestamp_seconds here (node_exporter's "
                   "textfile collector)")
@click.option("--pushgateway", envvar="HUB_BACKUP_PUSHGATEWAY", default=None,
              help="push the same metrics to this Prometheus Pushgateway (URL)")
def backup(directory, dated, keep_days, metrics_file, pushgateway):
    """Back up every service's database and the hub's broker definitions, with a manifest of
    checksums, into DIRECTORY (new or empty). Never any key (docs/operations.md, "Backups")."""
    from tooling import backup as backups
    if keep_days and not dated:
        raise click.UsageError("--keep-days needs --dated")
    s = settings(keys=False)

    def audit(target):      # a backup exports personal data: the trail says who took one
        _audit_operator(s, "backup.create", f"backup/{target.name}")
    try:
        result = (backups.dated_backup(s, directory, keep_days, click.echo, audit) if dated
                  else backups.backup(s, directory, click.echo, audit=audit))
    except backups.BackupError as exc:
        raise click.ClickException(str(exc))
    try:
        backups.record_success(s, result, metrics_file, pushgateway)
    except OSError as exc:
        raise click.ClickException(f"the backup is complete, but its time was not recorded for "
                                   f"Prometheus: {exc}")


@main.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--force", is_flag=True,
              help="drop the hub's databases first if they hold data (their data is lost)")
def restore(directory, force):
    """Rebuild the hub from a backup in DIRECTORY: check its checksums and that the supplied
    HUB_DATA_KEY opens it, restore the databases, make the services' users, load the broker
    definitions. The keys come from var/hub.env or the environment, never from the backup."""
    from tooling import backup as backups
    s = settings()
    try:
        manifest = backups.restore(s, directory, force=force, echo=click.echo)
    except backups.BackupError as exc:
        raise click.ClickException(str(exc))
    _audit_operator(s, "backup.restore", f"backup/{Path(directory).name}",
                    {"from_prefix": manifest["prefix"], "finished_at": manifest["finished_at"]})


if __name__ == "__main__":
    main()

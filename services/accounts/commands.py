"""The `hub user …` commands (accounts' manifest adds them to `hub`): users from the hub host."""
from contextlib import contextmanager

import click

from hub.auth import ROLES

FIRST_ADMIN = "admin"


def _settings():
    """The hub's settings, loaded as the `hub` command loads them (its context object)."""
    return click.get_current_context().obj()


@contextmanager
def _transaction(settings):
    """A transaction on accounts' database as the admin, with the operator acting as a county
    admin: (tx, principal, address); a refusal becomes the command's error."""
    from hub import audit
    from hub.auth import Principal
    from hub.db import Database
    from hub.errors import HubError
    actor, address = audit.operator()
    db = Database(settings, "accounts", dsn=settings.database_dsn("accounts"), min_size=1,
                  max_size=1)
    try:
        with db.transaction() as tx:
            yield tx, Principal(actor, "county_admin", settings.county.code), address
    except HubError as exc:
        raise click.ClickException(f"{exc.message} {exc.fields or ''}".strip())
    finally:
        db.close()


def _user_id(tx, name):
    row = tx.one("SELECT id FROM users WHERE lower(username) = lower(%s)", (name,))
    if row is None:
        raise click.ClickException(f"there is no user {name!r} (`hub user list`)")
    return row["id"]


def _change(name, body):
    from accounts import users
    from accounts.policy import policy
    s = _settings()
    with _transaction(s) as (tx, operator, address):
        return users.change(tx, s, policy(), operator, _user_id(tx, name), body, address)


@click.group("user")
def user_group():
    """Users of the console and the API: create, list, disable, reset a password."""


@user_group.command("create")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(ROLES), help="what they may do")
@click.option("--township", default=None, help="their station's township code (station roles)")
@click.option("--display-name", default="", help="the name shown in the console")
def create(name, role, township, display_name):
    """Create a user and print their first password (to be changed at first login)."""
    from accounts import users
    s = _settings()
    with _transaction(s) as (tx, operator, address):
        row, password = users.create(tx, s, operator, {
            "username": name, "role": role, "township": township,
            "display_name": display_name}, address)
    click.echo(f"user {row['username']} ({role}{', ' + township if township else ''}) created; "
               f"first password: {password}")


@user_group.command("list")
def list_users():
    """Every user: name, role, township, and whether disabled or locked."""
    with _transaction(_settings()) as (tx, *_):
        rows = tx.all("SELECT username, role, township_code, disabled, locked_until > now() "
                      "AS locked, must_change_password FROM users ORDER BY lower(username)")
    for r in rows:
        state = ("disabled" if r["disabled"] else "locked" if r["locked"] else
                 "first password" if r["must_change_password"] else "active")
        click.echo(f"{r['username']:<20} {r['role']:<16} {r['township_code'] or '-':<10} {state}")


@user_group.command("disable")
@click.argument("name")
def disable(name):
    """Disable a user: they cannot log in, and their tokens are refused at once."""
    _change(name, {"disabled": True})
    click.echo(f"user {name} disabled; their sessions are revoked")


@user_group.command("enable")
@click.argument("name")
def enable(name):
    """Enable a disabled user again."""
    _change(name, {"disabled": False})
    click.echo(f"user {name} enabled")


@user_group.command("reset-password")
@click.argument("name")
def reset_password(name):
    """Give a user a new first password (printed; to be changed at their next login)."""
    _, password = _change(name, {"reset_password": True})
    click.echo(f"user {name}: new first password {password}")


@user_group.command("first-admin")
def first_admin_command():
    """Print the console's address and the first county admin's login (`make run` does)."""
    s = _settings()
    name, password = first_admin(s)
    login = (f"{name} / {password}   (change it at first login)" if password else
             f"{name} (password as they set it; `hub user reset-password {name}` for a new one)")
    click.echo(f"""  console      : {s.service_url("gateway")}/
  first login  : {login}""")


def first_admin(settings):
    """(username, first password or None) of the hub's first county admin, created when there is
    none; while they have not changed it, their first password is made again and printed."""
    from accounts import users
    from accounts.policy import policy
    with _transaction(settings) as (tx, operator, address):
        row = tx.one("SELECT id, must_change_password FROM users WHERE lower(username) = %s",
                     (FIRST_ADMIN,))
        if row is None:
            _, password = users.create(tx, settings, operator, {
                "username": FIRST_ADMIN, "role": "county_admin",
                "display_name": "县级管理员"}, address)
            return FIRST_ADMIN, password
        if row["must_change_password"]:
            _, password = users.change(tx, settings, policy(), operator, row["id"],
                                       {"reset_password": True}, address)
            return FIRST_ADMIN, password
        return FIRST_ADMIN, None

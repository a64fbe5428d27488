"""Each service's database and migrations (yoyo): the chassis tables, then the service's own.

Applying migrations is idempotent: what was applied is recorded, and the SQL uses IF NOT EXISTS.
"""
import importlib
from pathlib import Path
from urllib.parse import quote, urlencode

from psycopg.conninfo import conninfo_to_dict
from yoyo import get_backend, read_migrations

from hub.db import create_database

CHASSIS_MIGRATIONS = Path(__file__).parent / "migrations"


def migration_dirs(service, package=None):
    module = importlib.import_module(package or service)
    own = Path(module.__file__).parent / "migrations"
    return [str(CHASSIS_MIGRATIONS)] + ([str(own)] if own.is_dir() else [])


def database_url(settings, service):
    """yoyo's URL for the ADMIN connection to the service's database; the DSN's other
    parameters (sslmode, sslrootcert …) go along as query arguments, which yoyo hands psycopg."""
    info = conninfo_to_dict(settings.pg_dsn)
    user = quote(info.pop("user", "postgres"), safe="")
    password = f":{quote(info.pop('password'), safe='')}" if info.get("password") else ""
    host, port = info.pop("host", "127.0.0.1"), info.pop("port", "5432")
    info.pop("dbname", None)
    query = f"?{urlencode(info)}" if info else ""
    return (f"postgresql+psycopg://{user}{password}@{host}:{port}/"
            f"{settings.database_name(service)}{query}")


def migrate(settings, service, package=None):
    """Create the database if needed and apply pending migrations; returns how many ran.

    `package` is where the service's migrations/ folder lives (default: the service's name).
    """
    create_database(settings, service)
    backend = get_backend(database_url(settings, service))
    try:
        migrations = read_migrations(*migration_dirs(service, package))
        with backend.lock():
            pending = backend.to_apply(migrations)
            backend.apply_migrations(pending)
        return len(pending)
    finally:
        backend.connection.close()

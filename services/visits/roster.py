"""The workers visits are given to, from a roster file per county (besides the workers resources
publishes: visits/workers.py).

The file (VISITS_ROSTER_FILE, else services/visits/roster-<county code>.yaml when it exists)
lists each station's social workers and volunteers with their weekly capacity. A worker's id
is derived from the county and the worker's code, so it stays the same across restarts and
hosts; workers the file no longer lists are marked as left. The service loads the file when
it starts.
"""
import logging
import os
import uuid
from pathlib import Path

import psycopg
import yaml
from marshmallow import Schema, ValidationError, fields, validate
from nameko.extensions import DependencyProvider

from contracts.places import COUNTY, TOWNSHIP
from visits.domain import OPEN_STATUSES, WORKER_KINDS, week_start

log = logging.getLogger(__name__)

NAMESPACE = uuid.UUID("6f1c1f9e-5d0c-4a8e-9a51-3c1b1e2f7a10")


class RosterError(ValueError):
    pass


class RosterWorkerSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(1, 40))
    township = fields.String(required=True, validate=TOWNSHIP)
    kind = fields.String(required=True, validate=validate.OneOf(WORKER_KINDS))
    weekly_capacity = fields.Integer(required=True, validate=validate.Range(1, 500))


class RosterSchema(Schema):
    county = fields.String(required=True, validate=COUNTY)
    workers = fields.List(fields.Nested(RosterWorkerSchema), required=True)


def worker_id(county_code, code):
    return uuid.uuid5(NAMESPACE, f"{county_code}/worker/{code}")


def roster_path(county, env=os.environ):
    explicit = env.get("VISITS_ROSTER_FILE")
    if explicit:
        return Path(explicit)
    default = Path(__file__).parent / f"roster-{county.code}.yaml"
    return default if default.exists() else None


def load(path, county):
    """The roster's workers as rows; RosterError names what is wrong with the file."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = RosterSchema().load(yaml.safe_load(fh) or {})
    except OSError as exc:
        raise RosterError(f"cannot read roster {path}: {exc.strerror}") from exc
    except ValidationError as exc:
        raise RosterError(f"roster {path} is invalid: {exc.messages}") from exc
    if data["county"] != county.code:
        raise RosterError(f"roster {path} is for county {data['county']}, not {county.code}")
    strangers = sorted({w["township"] for w in data["workers"]} - set(county.townships))
    if strangers:
        raise RosterError(f"roster {path} names townships not in {county.name}: {strangers}")
    return [{"id": worker_id(county.code, w["code"]), "code": w["code"], "kind": w["kind"],
             "township_code": w["township"], "weekly_capacity": w["weekly_capacity"]}
            for w in data["workers"]]


def sync(conn, workers):
    """Make the roster's workers the active roster workers (others from it are marked left)."""
    conn.execute(
        """INSERT INTO workers (id, code, kind, township_code, weekly_capacity, status, source)
           SELECT id, code, kind, town, cap, 'active', 'roster'
           FROM unnest(%(id)s::uuid[], %(code)s::text[], %(kind)s::text[], %(town)s::text[],
                       %(cap)s::int[]) AS w(id, code, kind, town, cap)
           ON CONFLICT (id) DO UPDATE SET code = EXCLUDED.code, kind = EXCLUDED.kind,
               township_code = EXCLUDED.township_code, weekly_capacity = EXCLUDED.weekly_capacity,
               status = 'active', updated_at = now()""",
        {"id": [w["id"] for w in workers], "code": [w["code"] for w in workers],
         "kind": [w["kind"] for w in workers], "town": [w["township_code"] for w in workers],
         "cap": [w["weekly_capacity"] for w in workers]})
    conn.execute("""UPDATE workers SET status = 'left', updated_at = now()
                    WHERE source = 'roster' AND status = 'active' AND NOT (id = ANY(%s))""",
                 ([w["id"] for w in workers],))


def load_and_sync(settings, service="visits"):
    """Load the county's roster file, if it has one, into the service's database."""
    path = roster_path(settings.county)
    if path is None:
        log.info("no worker roster for county %s: visits stay unassigned until workers are known",
                 settings.county.code)
        return 0
    workers = load(path, settings.county)
    with psycopg.connect(settings.service_pg_dsn(service)) as conn:
        sync(conn, workers)
    log.info("worker roster %s: %d workers", path, len(workers))
    return len(workers)


class RosterLoader(DependencyProvider):
    """Loads the roster when the service starts (a bad file stops the start, saying why)."""

    def start(self):
        load_and_sync(self.container.config["HUB_SETTINGS"], self.container.service_name)


def workers_with_load(tx, township_code, today):
    """The workers (of one station, or all) with their open visits and this week's load."""
    where, params = "", {"open": list(OPEN_STATUSES), "week": week_start(today)}
    if township_code:
        where, params["town"] = "WHERE w.township_code = %(town)s", township_code
    return tx.all(f"""SELECT w.id, w.code, w.kind, w.township_code, w.weekly_capacity, w.status,
                             w.source,
                             count(v.id) FILTER (WHERE v.status = ANY(%(open)s)) AS open_visits,
                             count(v.id) FILTER (WHERE v.status <> 'cancelled'
                                 AND v.due_on BETWEEN %(week)s AND %(week)s + 6) AS this_week
                      FROM workers w LEFT JOIN visits v ON v.worker_id = w.id
                      {where}
                      GROUP BY w.id ORDER BY w.township_code, w.code""", params)

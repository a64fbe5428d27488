"""Visits' own view of clients, kept from intake's client.* events (never from intake's tables).

Each client event carries the client's whole snapshot (codes, categories, risk, status), so the
view is simply the newest snapshot: an event older than the one already applied is stale
(events may be handled out of order) and leaves the view as it is.
"""
from dataclasses import dataclass
from datetime import date, datetime

from hub.errors import NotFound
from hub.i18n import _

COLUMNS = ("client_id, township_code, village_code, categories, age_group, risk_level, risk_flags, "
           "status, first_seen_on, as_of")


@dataclass(frozen=True)
class Snapshot:
    client_id: str
    township_code: str
    village_code: str
    categories: tuple
    age_group: str
    risk_level: str
    risk_flags: tuple
    status: str
    effective_date: date
    as_of: datetime


def snapshot(event):
    """The client as an intake event describes it."""
    data = event["data"]
    return Snapshot(str(data["client_id"]), data["township_code"], data["village_code"],
                    tuple(sorted(data["categories"])), data["age_group"], data["risk_level"],
                    tuple(sorted(data["risk_flags"])), data["status"],
                    date.fromisoformat(str(data["effective_date"])),
                    datetime.fromisoformat(event["time"]))


# the snapshots as rows s(id, town, ...), and the statement applying rows of such a source to the
# view; arrays go in binary (%b), which psycopg dumps several times faster than as text
SNAPSHOTS = """unnest(%(id)b::uuid[], %(town)b::text[], %(village)b::text[], %(cats)b::text[],
                      %(age)b::text[], %(risk)b::text[], %(flags)b::text[], %(status)b::text[],
                      %(eff)b::date[], %(as_of)b::timestamptz[])
               AS s(id, town, village, cats, age, risk, flags, status, eff, as_of)"""
APPLY = f"""INSERT INTO visit_clients AS vc ({COLUMNS})
            SELECT id, town, village, string_to_array(cats, ','), age, risk,
                   string_to_array(flags, ','), status, eff, as_of
            FROM {{source}}
            ON CONFLICT (client_id) DO UPDATE SET
                township_code = EXCLUDED.township_code, village_code = EXCLUDED.village_code,
                categories = EXCLUDED.categories, age_group = EXCLUDED.age_group,
                risk_level = EXCLUDED.risk_level, risk_flags = EXCLUDED.risk_flags,
                status = EXCLUDED.status, as_of = EXCLUDED.as_of, updated_at = now()
            WHERE vc.as_of <= EXCLUDED.as_of"""


def snapshot_params(snapshots):
    """The parameters of SNAPSHOTS."""
    return {"id": [s.client_id for s in snapshots],
            "town": [s.township_code for s in snapshots],
            "village": [s.village_code for s in snapshots],
            "cats": [",".join(s.categories) for s in snapshots],
            "age": [s.age_group for s in snapshots],
            "risk": [s.risk_level for s in snapshots],
            "flags": [",".join(s.risk_flags) for s in snapshots],
            "status": [s.status for s in snapshots],
            "eff": [s.effective_date for s in snapshots],
            "as_of": [s.as_of for s in snapshots]}


def upsert(tx, snapshots):
    """Apply snapshots (set-based); returns the ids whose view changed (stale ones are skipped)."""
    if not snapshots:
        return set()
    rows = tx.all(APPLY.format(source=SNAPSHOTS) + " RETURNING client_id",
                  snapshot_params(snapshots))
    return {str(r["client_id"]) for r in rows}


def find(tx, client_id, *, for_update=False):
    """The client's view row, or None when visits has not heard of the client."""
    return tx.one(f"SELECT {COLUMNS} FROM visit_clients WHERE client_id = %s"
                  + (" FOR UPDATE" if for_update else ""), (client_id,))


def known(tx, client_ids):
    """{client id: view row} for those of `client_ids` visits knows."""
    rows = tx.all(f"SELECT {COLUMNS} FROM visit_clients WHERE client_id = ANY(%s::uuid[])",
                  (list(client_ids),))
    return {str(r["client_id"]): r for r in rows}


def get(tx, client_id):
    row = find(tx, client_id)
    if row is None:
        raise NotFound(_("Visits has not heard of this client."))
    return row

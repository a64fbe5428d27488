"""This service's own view of intake's clients, kept from client.* events (never intake's tables).

Each client event carries the client's whole current state, so the view keeps the newest one:
events for one client may be handled out of order by concurrent workers, and an older event
never overwrites a newer state.
"""
from hub.errors import Conflict, ValidationFailed
from hub.i18n import _
from resources import queries

VIEW_COLUMNS = "client_id, status, categories, age_group, age_band, township_code, village_code"


UPSERT = f"""INSERT INTO client_view ({VIEW_COLUMNS}, as_of)
    VALUES (%(client_id)s, %(status)s, %(categories)s, %(age_group)s, %(age_band)s,
            %(township_code)s, %(village_code)s, %(as_of)s)
    ON CONFLICT (client_id) DO UPDATE SET
        status = EXCLUDED.status, categories = EXCLUDED.categories,
        age_group = EXCLUDED.age_group, age_band = EXCLUDED.age_band,
        township_code = EXCLUDED.township_code, village_code = EXCLUDED.village_code,
        as_of = EXCLUDED.as_of
    WHERE client_view.as_of <= EXCLUDED.as_of"""


def apply_events(tx, events):
    """Record each client.* event's state, in order, unless a newer event for that client was
    applied already; pipelined: one round trip for them all."""
    if events:
        tx.execute_each(UPSERT, [{**e["data"], "as_of": e["time"]} for e in events])


def find(tx, client_id):
    """A cursor for the client's view (fetched later, so it can share a pipeline)."""
    return tx.execute(f"SELECT {VIEW_COLUMNS} FROM client_view WHERE client_id = %s", (client_id,))


def known(tx, client_id):
    """The client's view, or None when this service has not heard of them."""
    return find(tx, client_id).fetchone()


FIND_MANY = f"SELECT {VIEW_COLUMNS} FROM client_view WHERE client_id = ANY(%s::uuid[])"


def find_many(tx, client_ids):
    """A cursor for the views of these clients (fetched later, so it can share a pipeline)."""
    return tx.execute(FIND_MANY, (list(client_ids),))


def active(tx, client_id, field="client_id"):
    """The client as this service knows them; 422 when unknown, 409 when their case is closed."""
    client_id = queries.parse_id(client_id, _("client"), field)
    return require_active(find(tx, client_id).fetchone(), field)


def require_active(client, field="client_id"):
    """The client's view itself; 422 when there is none (unknown), 409 when their case is closed."""
    if client is None:
        raise ValidationFailed(_(
            "This service does not know that client: not registered in intake, or the "
            "registration has not reached resources yet (try again in a moment)."),
            fields={field: [_("unknown client")]})
    if client["status"] != "active":
        raise Conflict(_("The client's case is closed; reopen it in intake first."),
                       fields={field: [_("client is closed")]})
    return client


def snapshot(client):
    """Who the client is now, as events record it (categories and age at the time of service)."""
    return {"client_id": str(client["client_id"]), "township_code": client["township_code"],
            "categories": list(client["categories"]), "age_group": client["age_group"],
            "age_band": client["age_band"]}

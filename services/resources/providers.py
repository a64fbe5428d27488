"""Providers: donors and partners (爱心人士, enterprises, 社会组织, self-governance groups,
institutions such as nursing homes and clinics), each with its 五社 category."""
import uuid
from datetime import date

from contracts.events import resources as events
from hub.i18n import _
from resources import queries
from resources.validation import check_townships

COLUMNS = ("id, seq, name, kind, five_society, contact, township_code, services, registered_on, "
           "recorded_at")


def register(tx, settings, body, actor):
    check_townships(settings, township_code=body["township_code"])
    effective = body["effective_date"] or date.today()
    row = tx.one(
        f"""INSERT INTO providers (id, name, kind, five_society, contact, township_code, services,
                                   registered_on, recorded_by)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING {COLUMNS}""",
        (uuid.uuid4(), body["name"], body["kind"], body["five_society"], body["contact"],
         body["township_code"], body["services"], effective, actor))
    tx.emit(events.PROVIDER_REGISTERED.key, f"provider/{row['id']}", {
        "provider_id": str(row["id"]), "kind": row["kind"], "five_society": row["five_society"],
        "township_code": row["township_code"], "effective_date": effective.isoformat()})
    return row


def get(tx, provider_id, field=None):
    return queries.get(tx, "providers", provider_id, _("provider"), field=field, columns=COLUMNS)


def search(tx, query):
    return queries.page(tx, "providers", query,
                      queries.equal_filters(query, ("kind", "five_society", "township_code")),
                      columns=COLUMNS)

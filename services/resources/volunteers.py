"""Real-name registered volunteers (实名注册志愿者) and the hours they log per activity or visit.

The resident ID number is encrypted at rest (hub.crypto, as intake does), found again by its
keyed hash, and only ever shown masked; events carry the volunteer's id, sex and age band only.
"""
import uuid
from datetime import date
from functools import lru_cache

from contracts import idnumber
from contracts.clients import age_band, age_on
from contracts.events import resources as events
from hub.crypto import PersonalDataCipher, mask
from hub.errors import Conflict
from hub.i18n import _
from resources import domain, queries
from resources.validation import check_townships, refuse_if

COLUMNS = ("id, seq, name, id_number_masked, sex, age_band, phone, township_code, registered_on, "
           "minutes_logged, recorded_at")

cipher = lru_cache(maxsize=4)(PersonalDataCipher)


def register(tx, settings, body, actor):
    """Register a volunteer; 409 (with the existing id) when the ID number is already here."""
    check_townships(settings, township_code=body["township_code"])
    rid = idnumber.parse(body["id_number"])
    on = body["registered_on"] or date.today()
    refuse_if(domain.not_before(on, rid.birth_date, "registered_on",
                                _("the birth date in id_number")), _("The date is not possible."))
    box = cipher(settings.data_key)
    lookup = box.lookup_hash(rid.number)
    volunteer_id = uuid.uuid4()
    row = tx.one(
        f"""INSERT INTO volunteers (id, name, id_number_enc, id_number_hash, id_number_masked, sex,
                                    age_band, phone, township_code, registered_on)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (id_number_hash) DO NOTHING RETURNING {COLUMNS}""",
        (volunteer_id, body["name"], box.encrypt(rid.number, volunteer_id.bytes), lookup,
         mask(rid.number), rid.sex, age_band(age_on(rid.birth_date, on)),
         body["phone"], body["township_code"], on))
    if row is None:
        existing = tx.one("SELECT id FROM volunteers WHERE id_number_hash = %s", (lookup,))
        raise Conflict(_("A volunteer with this ID number is already registered."),
                       fields={"id_number": [_("already registered")]},
                       existing_volunteer_id=str(existing["id"]))
    tx.emit(events.VOLUNTEER_REGISTERED.key, f"volunteer/{row['id']}", {
        "volunteer_id": str(row["id"]), "township_code": row["township_code"], "sex": row["sex"],
        "age_band": row["age_band"], "effective_date": on.isoformat()})
    return row


def log_hours(tx, volunteer_id, body, actor):
    """Add hours for one activity or visit; returns the entry and the volunteer's new total."""
    volunteer = get(tx, volunteer_id)
    on = body["effective_date"] or date.today()
    refuse_if(domain.not_before(on, volunteer["registered_on"], "effective_date",
                                _("the volunteer registered")), _("The date is not possible."))
    minutes = domain.minutes_of(body["hours"])
    refuse_if({} if minutes > 0 else {"hours": [_("less than a minute")]}, _("Too few hours."))
    entry_id = uuid.uuid4()
    tx.execute("""INSERT INTO volunteer_hours (id, volunteer_id, minutes, activity, visit_id,
                                               served_on, recorded_by)
                  VALUES (%s, %s, %s, %s, %s, %s, %s)""",
               (entry_id, volunteer["id"], minutes, body["activity"], body["visit_id"], on, actor))
    total = tx.one("UPDATE volunteers SET minutes_logged = minutes_logged + %s WHERE id = %s "
                   "RETURNING minutes_logged", (minutes, volunteer["id"]))["minutes_logged"]
    tx.emit(events.VOLUNTEER_HOURS_LOGGED.key, f"volunteer/{volunteer['id']}", {
        "volunteer_id": str(volunteer["id"]), "township_code": volunteer["township_code"],
        "minutes": minutes, "activity": body["activity"],
        "visit_id": body["visit_id"] and str(body["visit_id"]), "effective_date": on.isoformat()})
    return {"id": entry_id, "volunteer_id": volunteer["id"], "hours": minutes / 60,
            "activity": body["activity"], "visit_id": body["visit_id"], "served_on": on,
            "volunteer_hours_logged": total / 60}


def get(tx, volunteer_id):
    return queries.get(tx, "volunteers", volunteer_id, _("volunteer"), columns=COLUMNS)


def search(tx, query):
    return queries.page(tx, "volunteers", query,
                      queries.equal_filters(query, ("township_code",)), columns=COLUMNS)


def present(row):
    """A volunteer as the API shows them: the ID number masked, hours as a number."""
    shown = {k: v for k, v in row.items() if k not in ("id_number_masked", "minutes_logged")}
    return {**shown, "id_number": row["id_number_masked"],
            "hours_logged": row["minutes_logged"] / 60}

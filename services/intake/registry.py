"""Intake's use cases on the client registry: register, change, close, reopen, transfer, re-rate risk.

Each function works inside the caller's unit of work (`tx`): the change, its history row and its
event commit together or not at all.
"""
import uuid
from datetime import date
from functools import lru_cache

from psycopg.types.json import Jsonb

from contracts import idnumber
from contracts.clients import age_band, age_group, age_on
from contracts.events import intake as events
from hub.crypto import PersonalDataCipher, mask
from hub.errors import Conflict, HubError, NotFound, ValidationFailed
from hub.i18n import _
from hub.pagination import keyset_page
from intake import domain

CLIENT_COLUMNS = """id, name, id_number_enc, id_number_masked, birth_date, sex, phone, county_code,
    township_code, village_code, categories, disability, guardian, consent, risk_level, risk_flags,
    status, close_reason, registered_on, status_changed_on, recorded_at, updated_at, version, seq"""


@lru_cache(maxsize=4)
def cipher(data_key):
    return PersonalDataCipher(data_key)


def place_of(county, village_code):
    township = county.township_of(village_code)
    if township is None:
        raise ValidationFailed(_("The village is not in this county."), fields={
            "village_code": [_("{code} is not a village of {county} ({county_code})",
                               code=village_code, county=county.name, county_code=county.code)]})
    return township


def event_data(client, effective_date, **extra):
    age = age_on(client["birth_date"], effective_date)
    data = {
        "client_id": str(client["id"]), "county_code": client["county_code"],
        "township_code": client["township_code"], "village_code": client["village_code"],
        "categories": list(client["categories"]), "age_group": age_group(age),
        "age_band": age_band(age), "sex": client["sex"], "risk_level": client["risk_level"],
        "risk_flags": list(client["risk_flags"]), "status": client["status"],
        "effective_date": effective_date.isoformat(),
    }
    data.update(extra)
    return data


def record_history(tx, client_id, action, effective_date, actor, details=None):
    tx.execute("INSERT INTO client_history (client_id, action, effective_date, recorded_by, details)"
               " VALUES (%s, %s, %s, %s, %s)",
               (client_id, action, effective_date, actor, Jsonb(details or {})))


def _check_categories(categories, birth_date, on, disability, guardian):
    errors = domain.category_errors(categories, age_on(birth_date, on), disability, guardian)
    if errors:
        raise ValidationFailed(_("The categories do not fit this person."), fields=errors)


def register(tx, settings, body, actor):
    """Register a client; Conflict (with the existing id) if the ID number is already here."""
    outcome = register_all(tx, settings, [(body, actor)])[0]
    if isinstance(outcome, HubError):
        raise outcome
    return outcome


def register_all(tx, settings, requests):
    """Register [(body, actor)] as `register` would, one after another: one outcome each, in
    order — the client's row, or the HubError refusing it (nothing is written for that one). The
    accepted ones go to the database in one pipelined statement."""
    outcomes = []
    for body, actor in requests:
        try:
            outcomes.append(_registration(settings, body, actor))
        except HubError as refused:             # refused before writing anything
            outcomes.append(refused)
    todo = [i for i, o in enumerate(outcomes) if not isinstance(o, HubError)]
    if not todo:
        return outcomes
    with tx.conn.cursor() as cur:
        cur.executemany(REGISTER, [outcomes[i] for i in todo], returning=True)
        rows = [result.fetchone() for result in cur.results()]
    for i, row in zip(todo, rows):
        if row is None:     # the ID number or the id is registered (maybe by an earlier request)
            outcomes[i] = _registered_before(tx, outcomes[i])
            continue
        tx.emit(events.REGISTERED.key, f"client/{row['id']}",
                event_data(row, outcomes[i]["effective"]))
        outcomes[i] = row
    return outcomes


def _registered_before(tx, registration):
    """What a registration whose ID number or id is taken answers: the client already registered
    when it is the same person under the same id (a device sending its registration again),
    else a Conflict naming the field (and the existing client, for an ID number)."""
    existing = tx.one(f"SELECT {CLIENT_COLUMNS} FROM clients WHERE id_number_hash = %s",
                      (registration["hash"],))
    if existing is None:
        return Conflict(_("This id already names another client."),
                        fields={"id": [_("already names another client")]})
    if registration["requested_id"] and existing["id"] == registration["id"]:
        return existing
    return Conflict(_("A client with this ID number is already registered in this county."),
                    fields={"id_number": [_("already registered")]},
                    existing_client_id=str(existing["id"]))


REGISTER = f"""WITH client AS (
        INSERT INTO clients (id, name, id_number_enc, id_number_hash, id_number_masked,
            birth_date, sex, phone, county_code, township_code, village_code, categories,
            disability, guardian, consent, risk_level, risk_flags, registered_on,
            status_changed_on)
        VALUES (%(id)s, %(name)s, %(enc)s, %(hash)s, %(masked)s, %(birth)s, %(sex)s,
                %(phone)s, %(county)s, %(township)s, %(village)s, %(categories)s,
                %(disability)s, %(guardian)s, %(consent)s, %(risk)s, %(flags)s,
                %(effective)s, %(effective)s)
        ON CONFLICT DO NOTHING RETURNING *),
    history AS (
        INSERT INTO client_history (client_id, action, effective_date, recorded_by)
        SELECT id, 'registered', registered_on, %(actor)s FROM client)
    SELECT {CLIENT_COLUMNS} FROM client"""


def _registration(settings, body, actor):
    """A registration checked against the rules: the parameters of REGISTER (or a HubError)."""
    county = settings.county
    township = place_of(county, body["village_code"])
    rid = idnumber.parse(body["id_number"])
    effective = body["effective_date"] or date.today()
    if rid.birth_date > effective:
        raise ValidationFailed(_("The person was not born yet on the effective date."),
                               fields={"effective_date": [
                                   _("is before the birth date in id_number")]})
    _check_categories(body["categories"], rid.birth_date, effective, body["disability"],
                      body["guardian"])
    box = cipher(settings.data_key)
    client_id = body.get("id") or uuid.uuid4()
    return {"id": client_id, "requested_id": body.get("id") is not None, "name": body["name"],
            "enc": box.encrypt(rid.number, client_id.bytes),
            "hash": box.lookup_hash(rid.number), "masked": mask(rid.number),
            "birth": rid.birth_date, "sex": rid.sex, "phone": body["phone"],
            "county": county.code, "township": township.code, "village": body["village_code"],
            "categories": body["categories"], "disability": _json(body["disability"]),
            "guardian": _json(body["guardian"]), "consent": Jsonb(_dates(body["consent"])),
            "risk": body["risk_level"], "flags": body["risk_flags"], "effective": effective,
            "actor": actor}


def get(tx, client_id, *, for_update=False):
    try:
        uuid.UUID(str(client_id))
    except ValueError:
        raise NotFound(_("No such client."))
    row = tx.one(f"SELECT {CLIENT_COLUMNS} FROM clients WHERE id = %s"
                 + (" FOR UPDATE" if for_update else ""), (client_id,))
    if row is None:
        raise NotFound(_("No such client."))
    return row


def update(tx, client_id, body, actor):
    client = get(tx, client_id, for_update=True)
    effective = body.pop("effective_date", None) or date.today()
    changes = {k: v for k, v in body.items() if v != client.get(k)}
    if not changes:
        return client
    merged = {**client, **changes}
    _check_categories(merged["categories"], client["birth_date"], effective,
                      merged["disability"], merged["guardian"])
    assignments = ", ".join(f"{k} = %({k})s" for k in changes)
    params = {k: (_json(v) if k in ("disability", "guardian", "consent") else v)
              for k, v in changes.items()}
    row = tx.one(f"UPDATE clients SET {assignments}, updated_at = now(), version = version + 1 "
                 f"WHERE id = %(id)s RETURNING {CLIENT_COLUMNS}", {**params, "id": client_id})
    record_history(tx, client_id, "updated", effective, actor, {"fields": sorted(changes)})
    tx.emit(events.UPDATED.key, f"client/{client_id}",
            event_data(row, effective, changed_fields=sorted(changes)))
    return row


def change_status(tx, client_id, action, body, actor):
    """close or reopen a client."""
    client = get(tx, client_id, for_update=True)
    effective = body["effective_date"] or date.today()
    if action == "close":
        if client["status"] == "closed":
            raise Conflict(_("The client is already closed."),
                           fields={"status": [_("already closed")]})
        status, reason, etype, extra = "closed", body["reason"], events.CLOSED, {"reason": body["reason"]}
    else:
        if client["status"] == "active":
            raise Conflict(_("The client is active, not closed."),
                           fields={"status": [_("already active")]})
        status, reason, etype, extra = "active", None, events.REOPENED, {}
    row = tx.one(f"""UPDATE clients SET status = %s, close_reason = %s, status_changed_on = %s,
                     updated_at = now(), version = version + 1 WHERE id = %s
                     RETURNING {CLIENT_COLUMNS}""", (status, reason, effective, client_id))
    record_history(tx, client_id, "closed" if action == "close" else "reopened", effective, actor,
                   {"reason": reason, "note": body.get("note")})
    tx.emit(etype.key, f"client/{client_id}", event_data(row, effective, **extra))
    return row


def transfer(tx, settings, client_id, body, actor):
    client = get(tx, client_id, for_update=True)
    township = place_of(settings.county, body["village_code"])
    if client["status"] != "active":
        raise Conflict(_("Only an active client can be transferred."),
                       fields={"status": [_("closed")]})
    if body["village_code"] == client["village_code"]:
        raise ValidationFailed(_("The client already lives there."),
                               fields={"village_code": [_("is the client's current village")]})
    effective = body["effective_date"] or date.today()
    row = tx.one(f"""UPDATE clients SET township_code = %s, village_code = %s, updated_at = now(),
                     version = version + 1 WHERE id = %s RETURNING {CLIENT_COLUMNS}""",
                 (township.code, body["village_code"], client_id))
    record_history(tx, client_id, "transferred", effective, actor,
                   {"from": client["village_code"], "to": body["village_code"]})
    tx.emit(events.TRANSFERRED.key, f"client/{client_id}", event_data(
        row, effective, previous_township_code=client["township_code"],
        previous_village_code=client["village_code"]))
    return row


def change_risk(tx, client_id, body, actor):
    client = get(tx, client_id, for_update=True)
    if client["status"] != "active":
        raise Conflict(_("The client is closed; reopen it first."),
                       fields={"status": [_("closed")]})
    effective = body["effective_date"] or date.today()
    if (body["risk_level"], sorted(body["risk_flags"])) == (client["risk_level"],
                                                           sorted(client["risk_flags"])):
        return client
    row = tx.one(f"""UPDATE clients SET risk_level = %s, risk_flags = %s, updated_at = now(),
                     version = version + 1 WHERE id = %s RETURNING {CLIENT_COLUMNS}""",
                 (body["risk_level"], body["risk_flags"], client_id))
    record_history(tx, client_id, "risk_changed", effective, actor,
                   {"from": client["risk_level"], "to": body["risk_level"], "reason": body.get("reason")})
    tx.emit(events.RISK_CHANGED.key, f"client/{client_id}",
            event_data(row, effective, previous_risk_level=client["risk_level"]))
    return row


def search(tx, filters):
    where, params = [], {}
    for column in ("township_code", "village_code", "risk_level", "status"):
        if filters.get(column):
            where.append(f"{column} = %({column})s")
            params[column] = filters[column]
    if filters.get("category"):
        where.append("categories @> ARRAY[%(category)s]::text[]")
        params["category"] = filters["category"]
    return keyset_page(tx, f"SELECT {CLIENT_COLUMNS} FROM clients", where, params, filters)


def present(settings, row, reveal=frozenset()):
    """A client row as the API shows it: ID and phone numbers masked unless in `reveal`."""
    age = age_on(row["birth_date"], date.today())
    shown = {k: v for k, v in row.items() if k not in ("id_number_enc", "id_number_masked", "seq")}
    shown["id_number"] = (cipher(settings.data_key).decrypt(row["id_number_enc"], row["id"].bytes)
                          if "id_number" in reveal else row["id_number_masked"])
    if "phone" not in reveal:
        shown["phone"] = mask(shown["phone"])
        if shown.get("guardian"):
            shown["guardian"] = {**shown["guardian"],
                                 "phone": mask(shown["guardian"].get("phone"))}
    shown.update(age=age, age_group=age_group(age))
    consent = row["consent"]
    shown["consent"] = {**consent, "date": date.fromisoformat(consent["date"])}
    return shown


def _json(value):
    return Jsonb(_dates(value)) if value is not None else None


def _dates(value):
    if isinstance(value, dict):
        return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in value.items()}
    return value

"""Group activities (小组活动, 主题活动, 义诊, 讲座): each participating client is one person-time (人次),
and so is each of the other attendees counted.

A participant's categories and age group are kept as they were on the day (from visits' view
of the client), so statistics count person-times by category at the time of the service; a
client in two categories counts once in each category's figure and once in the total. Attendees
who are not registered clients (most of a free clinic's) are a headcount, by age group and sex
where known: counted in person-times, never identified.
"""
import uuid
from collections import Counter

from psycopg.types.json import Jsonb

from contracts.events import visits as events
from hub.errors import NotFound, ValidationFailed
from hub.i18n import _
from hub.pagination import keyset_page
from visits import client_view

COLUMNS = ("id, seq, township_code, kind, title, held_on, worker_ids, volunteer_ids, note, "
           "attendees, recorded_by, recorded_at")


def record(tx, county, body, actor):
    if body["station"] not in county.townships:
        raise ValidationFailed(_("The station is not in this county."), fields={
            "station": [_("{code} is not a township station of {county}", code=body["station"],
                          county=county.name)]})
    known = client_view.known(tx, body["participants"])
    unknown = [str(c) for c in body["participants"] if str(c) not in known]
    if unknown:
        raise ValidationFailed(_("Some participants are not known clients."), fields={
            "participants": [_("{client_id} is not a registered client", client_id=c)
                             for c in unknown]})
    staff = {r["id"] for r in tx.all("SELECT id FROM workers WHERE id = ANY(%s)", (body["workers"],))}
    strangers = [str(w) for w in body["workers"] if w not in staff]
    if strangers:
        raise ValidationFailed(_("Some workers are not known."), fields={
            "workers": [_("{worker_id} is not a worker of this county", worker_id=w)
                        for w in strangers]})
    activity_id = uuid.uuid4()
    attendees = body["attendees"] and Jsonb(body["attendees"])
    tx.execute("""INSERT INTO activities (id, township_code, kind, title, held_on, worker_ids,
                                           volunteer_ids, note, attendees, recorded_by)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
               (activity_id, body["station"], body["kind"], body["title"], body["held_on"],
                body["workers"], body["volunteers"], body["note"], attendees, actor))
    people = [known[str(c)] for c in body["participants"]]
    tx.execute("""INSERT INTO activity_participants (activity_id, client_id, categories, age_group)
                  SELECT %s, c, string_to_array(cats, ','), a
                  FROM unnest(%s::uuid[], %s::text[], %s::text[]) AS p(c, cats, a)""",
               (activity_id, [p["client_id"] for p in people],
                [",".join(p["categories"]) for p in people], [p["age_group"] for p in people]))
    found = get(tx, activity_id)
    tx.emit(events.ACTIVITY_HELD.key, f"activity/{activity_id}", {
        "activity_id": str(activity_id), "township_code": found["station"],
        "kind": found["kind"], "held_on": found["held_on"].isoformat(),
        "person_times": found["person_times"],
        "person_times_by_category": found["person_times_by_category"],
        "participants": [{"client_id": str(p["client_id"]), "categories": list(p["categories"]),
                          "age_group": p["age_group"]} for p in people],
        "worker_ids": [str(w) for w in body["workers"]],
        "volunteer_ids": [str(v) for v in body["volunteers"]],
        "attendees": found["attendees"]})
    return found


def get(tx, activity_id):
    try:
        uuid.UUID(str(activity_id))
    except ValueError:
        raise NotFound(_("No such activity."))
    row = tx.one(f"SELECT {COLUMNS} FROM activities WHERE id = %s", (activity_id,))
    if row is None:
        raise NotFound(_("No such activity."))
    return present(tx, [row])[0]


def search(tx, query):
    where, params = [], {}
    for name, sql in (("station", "township_code = %(station)s"), ("kind", "kind = %(kind)s"),
                      ("held_from", "held_on >= %(held_from)s"),
                      ("held_to", "held_on <= %(held_to)s")):
        if query.get(name) is not None:
            where.append(sql)
            params[name] = query[name]
    rows, next_cursor = keyset_page(tx, f"SELECT {COLUMNS} FROM activities", where, params, query)
    return present(tx, rows), next_cursor


def present(tx, rows):
    """Activities with their participants and person-times, in total and by category."""
    members = tx.all("""SELECT activity_id, client_id, categories FROM activity_participants
                        WHERE activity_id = ANY(%s) ORDER BY client_id""",
                     ([r["id"] for r in rows],))
    by_activity = {}
    for m in members:
        by_activity.setdefault(m["activity_id"], []).append(m)
    shown = []
    for r in rows:
        people = by_activity.get(r["id"], [])
        others = (r["attendees"] or {}).get("total", 0)
        shown.append({**r, "station": r["township_code"], "workers": r["worker_ids"],
                      "volunteers": r["volunteer_ids"],
                      "participants": [p["client_id"] for p in people],
                      "person_times": len(people) + others,
                      "person_times_by_category": dict(sorted(Counter(
                          c for p in people for c in p["categories"]).items()))})
    return shown

"""Public-benefit projects (公益创投项目): title, budget, providers, period and intended beneficiaries."""
import uuid
from datetime import date

from contracts.events import resources as events
from hub.i18n import _
from resources import providers, queries
from resources.validation import check_townships

COLUMNS = ("id, seq, title, budget_fen, provider_ids, starts_on, ends_on, township_codes, "
           "beneficiary_categories, planned_beneficiaries, description, created_on, recorded_at")


def create(tx, settings, body, actor):
    check_townships(settings, **{f"township_codes.{i}": c
                                 for i, c in enumerate(body["township_codes"])})
    for i, provider_id in enumerate(body["provider_ids"]):
        providers.get(tx, provider_id, field=f"provider_ids.{i}")
    on = body["effective_date"] or date.today()
    row = tx.one(
        f"""INSERT INTO projects (id, title, budget_fen, provider_ids, starts_on, ends_on,
                township_codes, beneficiary_categories, planned_beneficiaries, description,
                created_on, recorded_by)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING {COLUMNS}""",
        (uuid.uuid4(), body["title"], body["budget_fen"], body["provider_ids"], body["starts_on"],
         body["ends_on"], body["township_codes"], body["beneficiary_categories"],
         body["planned_beneficiaries"], body["description"], on, actor))
    tx.emit(events.PROJECT_CREATED.key, f"project/{row['id']}", {
        "project_id": str(row["id"]), "budget_fen": row["budget_fen"],
        "provider_ids": [str(p) for p in row["provider_ids"]],
        "starts_on": row["starts_on"].isoformat(), "ends_on": row["ends_on"].isoformat(),
        "township_codes": list(row["township_codes"]),
        "beneficiary_categories": list(row["beneficiary_categories"]),
        "planned_beneficiaries": row["planned_beneficiaries"], "effective_date": on.isoformat()})
    return row


def get(tx, project_id):
    return queries.get(tx, "projects", project_id, _("project"), columns=COLUMNS)


def search(tx, query):
    filters = queries.equal_filters(query, ())
    if query.get("provider_id"):
        filters["%s = ANY(provider_ids)"] = [query["provider_id"]]
    if query.get("township_code"):
        filters["%s = ANY(township_codes)"] = [query["township_code"]]
    return queries.page(tx, "projects", query, filters, columns=COLUMNS)

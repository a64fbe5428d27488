"""The county's visit policy as data: read it, and replace it (which re-dates the open plans)."""
from psycopg.types.json import Jsonb

from hub.errors import ValidationFailed
from hub.i18n import _
from visits import domain, plans, visit_rows

COLUMNS = "document, version, effective_date, updated_by, updated_at"
SELECT = f"SELECT {COLUMNS} FROM visit_policy"


def load(tx):
    """The policy in force, read once per transaction (a group of calls shares one:
    hub/call_groups.py); `replace` changes it in its own."""
    if getattr(tx, "visit_policy", None) is None:
        tx.visit_policy = domain.Policy.from_document(tx.one(SELECT)["document"])
    return tx.visit_policy


def show(county, row):
    return {**row["document"], "county_code": county.code, "version": row["version"],
            "effective_date": row["effective_date"], "updated_by": row["updated_by"],
            "updated_at": row["updated_at"]}


def current(tx, county):
    return show(county, tx.one(SELECT))


def replace(tx, county, body, actor, today):
    """Store a new policy, keep the old one in the history, and re-date every open plan from the
    policy's effective date; visits already due keep their dates (see Policy.rescheduled_due)."""
    errors = domain.policy_errors(body)
    if errors:
        raise ValidationFailed(_("The policy is not consistent."), fields=errors)
    effective = body.pop("effective_date", None) or today
    new = domain.Policy.from_document(body)
    tx.execute("""INSERT INTO visit_policy_history (version, document, effective_date, updated_by,
                                                    updated_at)
                  SELECT version, document, effective_date, updated_by, updated_at FROM visit_policy
                  ON CONFLICT (version) DO NOTHING""")
    row = tx.one(f"""UPDATE visit_policy SET document = %s, version = version + 1,
                         effective_date = %s, updated_by = %s, updated_at = now()
                     RETURNING {COLUMNS}""",
                 (Jsonb(new.to_document()), effective, actor))
    tx.visit_policy = new
    moved = plans.reschedule(tx, new, today, effective, "policy_changed")
    visit_rows.judge(tx, new, today, everything=True)
    return {**show(county, row), "rescheduled": len(moved)}

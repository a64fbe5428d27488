"""Ending sessions: their refresh tokens stop in accounts, and tokens.revoked tells every service
(this one records it at once, in the same transaction) to refuse their access tokens."""
from datetime import datetime, timedelta, timezone

from contracts.events.accounts import REVOKED
from hub import auth


def revoke_all(tx, policy, user_id, reason):
    """Close every open session of a user."""
    open_ids = [r["id"] for r in tx.all(
        "SELECT id FROM sessions WHERE user_id = %s AND revoked_at IS NULL", (user_id,))]
    if open_ids:
        revoke(tx, policy, user_id, open_ids, reason)


def revoke(tx, policy, user_id, session_ids, reason):
    """Close sessions: their refresh tokens stop here, and tokens.revoked tells every service
    (this one records it at once) to refuse their access tokens."""
    tx.execute("UPDATE sessions SET revoked_at = now(), revoked_reason = %s "
               "WHERE id = ANY(%s) AND revoked_at IS NULL", (reason, list(session_ids)))
    expires_by = datetime.now(timezone.utc) + timedelta(seconds=policy.access_seconds + 60)
    event = tx.emit(REVOKED.key, f"user/{user_id}", {
        "subject": f"user:{user_id}", "session_ids": [str(s) for s in session_ids],
        "reason": reason, "expires_by": expires_by.isoformat()})
    auth.record_revocation(tx, event)

"""Keyset pagination: every list endpoint pages the same way, by a `seq` column and an opaque
cursor (tagged per API, so a cursor from one list is refused by another)."""
import base64

from hub.errors import ValidationFailed
from hub.i18n import _


def encode_cursor(seq, tag="c"):
    return base64.urlsafe_b64encode(f"{tag}{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor, tag="c"):
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith(tag):
            raise ValueError
        return int(raw[len(tag):])
    except ValueError:
        raise ValidationFailed(_("The cursor is not one this API gave out."),
                               fields={"cursor": [_("invalid")]})


def keyset_page(tx, select, where, params, query, *, tag="c"):
    """One page of `select` ("SELECT … FROM table", no WHERE), filtered by the `where` clauses,
    ordered by `seq`, after query["cursor"], at most query["limit"] rows (default 50).

    `params` are the clauses' parameters: a dict for %(name)s placeholders or a list for %s.
    Returns (rows, next_cursor); next_cursor is None on the last page.
    """
    where = list(where)
    named = isinstance(params, dict)
    params = dict(params) if named else list(params)
    limit = query.get("limit") or 50
    if query.get("cursor"):
        where.append("seq > %(page_after)s" if named else "seq > %s")
        after = decode_cursor(query["cursor"], tag)
        params.update(page_after=after) if named else params.append(after)
    params.update(page_limit=limit + 1) if named else params.append(limit + 1)
    rows = tx.all(select + (" WHERE " + " AND ".join(where) if where else "")
                  + " ORDER BY seq LIMIT " + ("%(page_limit)s" if named else "%s"), params)
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(rows[-1]["seq"], tag) if more else None)

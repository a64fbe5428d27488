"""Reading rows for the use cases: one row by id (404 when absent), and keyset-paged lists.

Every listed table has a `seq bigserial` column; a page's cursor is an opaque token for the
last seq shown. (intake pages the same way; this could move to the chassis.)
"""
import uuid

from hub.errors import NotFound, ValidationFailed
from hub.i18n import _
from hub.pagination import keyset_page


def parse_id(value, what, field=None):
    """A UUID from a path or body value: NotFound (path) or 422 naming `field` (body)."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        if field:
            raise ValidationFailed(_("{field} is not an id.", field=field),
                                   fields={field: [_("not a valid id")]})
        raise NotFound(_("No such {what}.", what=what))


def get(tx, table, row_id, what, *, field=None, for_update=False, columns="*"):
    """The row of `table` with that id; NotFound, or 422 naming `field` when given (body refs)."""
    row_id = parse_id(row_id, what, field)
    row = tx.one(f"SELECT {columns} FROM {table} WHERE id = %s"
                 + (" FOR UPDATE" if for_update else ""), (row_id,))
    return require(row, what, field)


def require(row, what, field=None):
    """`row` itself; NotFound when it is None, or 422 naming `field` when given (body refs)."""
    if row is None:
        if field:
            raise ValidationFailed(_("There is no such {what}.", what=what),
                                   fields={field: [_("no such {what}", what=what)]})
        raise NotFound(_("No such {what}.", what=what))
    return row


def page(tx, table, query, filters, *, columns="*"):
    """One page of `table`: rows matching `filters` ({sql: params}) after query['cursor'].

    Returns (rows, next_cursor); next_cursor is None on the last page.
    """
    return keyset_page(tx, f"SELECT {columns} FROM {table}", filters,
                       [p for ps in filters.values() for p in ps], query, tag="r")


def equal_filters(query, columns):
    """{"col = %s": [value]} for each of `columns` given in the query."""
    return {f"{c} = %s": [query[c]] for c in columns if query.get(c) is not None}

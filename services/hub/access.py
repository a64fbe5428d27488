"""Who may call which route and see which records: the one place access is decided.

Every route declares an `Access` (`@api(..., access=STAFF)`; routes that declare none are for
county admins only). The HTTP entrypoint applies it to every call, before and after the handler:

- the caller's role must be one of the route's roles, else 403 (and an audit entry);
- station roles (station_worker, township_admin) carry their township in the token; on a scoped
  route their list queries are narrowed to it, a body naming another township is refused (403),
  and a record of another township answers 404 as if it did not exist: checked before the body
  is read for the records named in the path (the service's `record_tables`), and again on what
  the handler returns (its transaction undone);
- a token of another county (possible where a province shares the signing key) finds nothing;
- `?reveal=id_number,phone` shows full personal numbers only to the route's `reveal` roles, and
  every such read is audited, as is every change on a route with `audit="client"` and every
  call of a route with `audit="export"`;
- whether a caller reads figures exactly (county and station staff) or as a reader outside the
  county, with small counts suppressed (`reads_exact_figures`; applied by stats/disclosure.py).
"""
from dataclasses import dataclass, replace

from hub.audit import Entry
from hub.auth import STATION_ROLES, TokenRefused
from hub.errors import Forbidden, NotFound
from hub.i18n import _
from hub.validators import is_uuid

PLACE_FIELDS = ("township_code", "station")
REVEALABLE = ("id_number", "phone")


class OutOfScope(NotFound):
    """A record of another station: answered exactly like one that does not exist."""

    def __init__(self):
        super().__init__(_("No such record."))


@dataclass(frozen=True)
class Access:
    roles: tuple
    scoped: bool = True         # station roles see only their own township's records
    reveal: tuple = ()          # roles that may ask for full ID numbers and phone numbers
    audit: str | None = None    # "client": personal reads and changes; "export": every call

    def but(self, **changes):
        return replace(self, **changes)

    def describe(self):
        """One sentence for the route's OpenAPI description."""
        confined = self.scoped and set(self.roles) & set(STATION_ROLES)
        return (f"Roles: {', '.join(self.roles)}"
                + ("; station roles see their own township's records only" if confined else "")
                + (f"; full ID/phone numbers (?reveal=) for {', '.join(self.reveal)}"
                   if self.reveal else "") + ".")


STAFF = Access(("station_worker", "township_admin", "county_admin"))
TOWNSHIP_ADMINS = Access(("township_admin", "county_admin"))
COUNTY_ADMINS = Access(("county_admin",))
FIGURES = Access(("station_worker", "township_admin", "county_admin", "province_viewer"),
                 scoped=False)
AUDITORS = Access(("auditor",), scoped=False)
DEFAULT = COUNTY_ADMINS
# Who reads figures exactly: the county's own staff and its stations'. Every other role that may
# read figures (province_viewer, and any role given them later) is outside the county and reads
# them with small counts suppressed (stats/disclosure.py): decided by the token's role, whatever
# the route.
EXACT_FIGURES_ROLES = ("station_worker", "township_admin", "county_admin")


def reads_exact_figures(principal):
    """Whether the caller is county or station staff (else: small counts are suppressed)."""
    return principal is not None and principal.role in EXACT_FIGURES_ROLES


def station_of(principal, access):
    """The township a caller is confined to on this route, or None."""
    if access.scoped and principal.role in STATION_ROLES:
        return principal.township
    return None


def check_county(principal, county_code):
    """A token of another county (signed with a key shared across a province) finds nothing here."""
    if principal.county != county_code:
        raise OutOfScope()


def check_record_places(access, principal, database, record_tables, path_values):
    """Before the body is even read: a path naming another township's record answers 404.

    `record_tables` (the service's) maps a path parameter (client_id …) to the table whose row
    it names; every such table has `id` and `township_code` (NULL for county-wide records).
    """
    own = station_of(principal, access)
    if not own or database is None:
        return
    for name, value in path_values.items():
        table = record_tables.get(name)
        if table is None or not is_uuid(value):
            continue
        rows = database.query(f"SELECT township_code FROM {table} WHERE id = %s", (value,))
        if rows and rows[0]["township_code"] not in (None, own):
            raise OutOfScope()


def check_role(access, principal, method, url):
    if principal.role not in access.roles:
        raise Forbidden(_("The role {role} may not call {method} {url}.", role=principal.role,
                          method=method, url=url),
                        fields={"role": [_("one of {roles} is needed",
                                           roles=", ".join(access.roles))]})


def narrow_query(access, principal, query, query_fields):
    """Lists of a station role show their own township unless they asked for one."""
    own = station_of(principal, access)
    if own:
        for name in PLACE_FIELDS:
            if name in query_fields and not query.get(name):
                query[name] = own


def check_body(access, principal, body):
    own = station_of(principal, access)
    if own and isinstance(body, dict):
        for name in PLACE_FIELDS:
            value = body.get(name)
            if value and value != own:
                raise Forbidden(_("{name} {value} is not your station.", name=name, value=value),
                                fields={name: [_("must be your own township {township}",
                                                 township=own)]})


def granted_reveal(access, principal, query):
    """The personal numbers the caller asked to see in full, if the route lets their role."""
    wanted = {v.strip() for v in str(query.get("reveal") or "").split(",") if v.strip()}
    if not wanted:
        return frozenset()
    unknown = wanted - set(REVEALABLE)
    if unknown:
        raise Forbidden(_("Only id_number and phone can be revealed."),
                        fields={"reveal": [_("unknown: {names}",
                                             names=", ".join(sorted(unknown)))]})
    if principal.role not in access.reveal:
        raise Forbidden(_("The role {role} may not see full personal numbers here.",
                          role=principal.role),
                        fields={"reveal": [_("not allowed for role {role}", role=principal.role)]})
    return frozenset(wanted)


def _place(record):
    for name in PLACE_FIELDS:
        if name in record:
            return record[name]
    return None


def scope_result(access, principal, result):
    """Drop other townships' records from a page; a single one answers 404 (OutOfScope)."""
    own = station_of(principal, access)
    if not own or not isinstance(result, dict):
        return result
    if isinstance(result.get("items"), list):
        result["items"] = [r for r in result["items"]
                           if not isinstance(r, dict) or _place(r) in (None, own)]
    elif _place(result) not in (None, own):
        raise OutOfScope()
    return result


def success_entries(access, call, method, url, result, address):
    """The audit entries a successful call leaves (written in its own transaction)."""
    p = call.principal
    if p is None:
        return []
    entries = []
    records = (result.get("items") if isinstance(result, dict) and "items" in result
               else [result] if isinstance(result, dict) else [])
    ids = [str(r["id"]) for r in records if isinstance(r, dict) and "id" in r]
    kind = access.audit or "record"
    if call.reveal:
        target = f"{kind}/{ids[0]}" if len(ids) == 1 and "items" not in result else f"{kind}s"
        entries.append(Entry(p.subject, p.role, "personal.read", target, address,
                             {"fields": sorted(call.reveal), "ids": ids, "request": f"{method} {url}"}))
    if access.audit == "client" and method != "GET":
        entries.append(Entry(p.subject, p.role, "client.change",
                             f"client/{ids[0]}" if ids else url, address,
                             {"request": f"{method} {url}",
                              "fields": sorted((call.body or {}).keys())}))
    if access.audit == "export":
        entries.append(Entry(p.subject, p.role, "export", url, address,
                             {"query": {k: str(v) for k, v in call.query.items()}}))
    return entries


def refusal_entry(exc, principal, method, path, address):
    """The audit entry of a refused call: bad token (401), role (403) or place (404)."""
    if isinstance(exc, TokenRefused):
        return Entry(exc.claimed_subject, exc.claimed_role, "auth.refused", f"{method} {path}",
                     address, {"reason": exc.reason})
    action = "access.out_of_scope" if isinstance(exc, OutOfScope) else "access.denied"
    return Entry(principal.subject, principal.role, action, f"{method} {path}", address,
                 {"reason": exc.message, "fields": sorted(exc.fields)})

"""The events intake publishes: ids, codes, categories, age band, sex and risk; no personal details."""
from marshmallow import Schema, fields, validate

from contracts import clients
from contracts.places import COUNTY, TOWNSHIP, VILLAGE
from hub.events import register


class ClientEventData(Schema):
    client_id = fields.UUID(required=True)
    county_code = fields.String(required=True, validate=COUNTY)
    township_code = fields.String(required=True, validate=TOWNSHIP)
    village_code = fields.String(required=True, validate=VILLAGE)
    categories = fields.List(fields.String(validate=validate.OneOf(list(clients.CATEGORIES))),
                             required=True)
    age_group = fields.String(required=True, validate=validate.OneOf(clients.AGE_GROUPS))
    age_band = fields.String(required=True)
    sex = fields.String(required=True, validate=validate.OneOf(clients.SEXES))
    risk_level = fields.String(required=True, validate=validate.OneOf(clients.RISK_LEVELS))
    risk_flags = fields.List(fields.String(), required=True)
    status = fields.String(required=True, validate=validate.OneOf(clients.STATUSES))
    effective_date = fields.Date(required=True)


class ClientUpdatedData(ClientEventData):
    changed_fields = fields.List(fields.String(), required=True)


class ClientRiskChangedData(ClientEventData):
    previous_risk_level = fields.String(required=True, validate=validate.OneOf(clients.RISK_LEVELS))


class ClientClosedData(ClientEventData):
    reason = fields.String(required=True, validate=validate.OneOf(clients.CLOSE_REASONS))


class ClientTransferredData(ClientEventData):
    previous_township_code = fields.String(required=True)
    previous_village_code = fields.String(required=True)


REGISTERED = register("client.registered", 1, ClientEventData, "intake",
                      "A client was registered at a station.")
UPDATED = register("client.updated", 1, ClientUpdatedData, "intake",
                   "A client's record changed (the names of the changed fields only).")
RISK_CHANGED = register("client.risk_changed", 1, ClientRiskChangedData, "intake",
                        "A client's risk level or flags changed.")
CLOSED = register("client.closed", 1, ClientClosedData, "intake", "A client's case was closed.")
REOPENED = register("client.reopened", 1, ClientEventData, "intake", "A closed case was reopened.")
TRANSFERRED = register("client.transferred", 1, ClientTransferredData, "intake",
                       "A client moved to another village or township station.")

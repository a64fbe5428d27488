"""The one event type the toy publishes: it counted a newly registered client."""
from marshmallow import Schema, fields

from contracts.places import TOWNSHIP
from hub.events import register


class ClientCountedData(Schema):
    client_id = fields.UUID(required=True)
    township_code = fields.String(required=True, validate=TOWNSHIP)


CLIENT_COUNTED = register("toy.client_counted", 1, ClientCountedData, "toy",
                          "The toy counted a newly registered client.")

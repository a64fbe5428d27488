"""The intake service: the HTTP API of the client registry."""
from hub import call_groups
from hub.access import STAFF
from hub.errors import HubError
from hub.group_commit import commit_together
from hub.http import api
from hub.inbox import handle_events
from hub.service import HubService
from intake import consumers, registry
from intake.schemas import (
    ClientCreateSchema,
    ClientPageSchema,
    ClientPatchSchema,
    ClientQuerySchema,
    ClientSchema,
    CloseSchema,
    ReopenSchema,
    RiskSchema,
    TransferSchema,
)

CLIENT = "/api/v1/clients/<client_id>"
SHOW = ClientSchema()
# station staff work with their own township's clients; township and county admins may ask to
# see full ID and phone numbers; every such read and every change is audited
CLIENTS = STAFF.but(reveal=("township_admin", "county_admin"), audit="client")


class IntakeService(HubService):
    name = "intake"
    record_tables = {"client_id": "clients"}

    def _show(self, call, row):
        return SHOW.dump(registry.present(self.db.settings, row, call.reveal))

    def _actor(self, call):
        return call.principal.subject

    @api("POST", "/api/v1/clients", body=ClientCreateSchema, status=201,
         responds=ClientSchema, access=CLIENTS, batch=True)
    def register_client(self, calls):
        """Register a client. Registrations that arrive together are committed together (one
        transaction, each answered as if it had run alone: hub/group_commit.py)."""
        return commit_together(self.db, calls, self._register_each)

    def _register_each(self, tx, calls):
        outcomes = registry.register_all(tx, self.db.settings,
                                        [(call.body, self._actor(call)) for call in calls])
        return [o if isinstance(o, HubError) else self._show(call, o)
                for call, o in zip(calls, outcomes)]

    @call_groups.route(access=STAFF)
    def call_group(self, call, routes):
        """The sync's registrations, as one call of the hub's own (hub/call_groups.py)."""
        return call_groups.run(self, call, routes)

    @api("GET", "/api/v1/clients", query=ClientQuerySchema, responds=ClientPageSchema,
         access=CLIENTS)
    def list_clients(self, call):
        rows, next_cursor = registry.search(call.tx, call.query)
        return {"items": [self._show(call, r) for r in rows],
                "next_cursor": next_cursor}

    @api("GET", CLIENT, query=ClientQuerySchema, responds=ClientSchema, access=CLIENTS)
    def get_client(self, call, client_id):
        return self._show(call, registry.get(call.tx, client_id))

    @api("PATCH", CLIENT, body=ClientPatchSchema, responds=ClientSchema, access=CLIENTS)
    def update_client(self, call, client_id):
        return self._show(call, registry.update(call.tx, client_id, call.body, self._actor(call)))

    @api("POST", CLIENT + "/close", body=CloseSchema, responds=ClientSchema, access=CLIENTS)
    def close_client(self, call, client_id):
        return self._show(call, registry.change_status(call.tx, client_id, "close", call.body,
                                                      self._actor(call)))

    @api("POST", CLIENT + "/reopen", body=ReopenSchema, responds=ClientSchema, access=CLIENTS)
    def reopen_client(self, call, client_id):
        return self._show(call, registry.change_status(call.tx, client_id, "reopen", call.body,
                                                      self._actor(call)))

    @api("POST", CLIENT + "/transfer", body=TransferSchema, responds=ClientSchema,
         access=CLIENTS.but(roles=("county_admin",)))
    def transfer_client(self, call, client_id):
        return self._show(call, registry.transfer(call.tx, self.db.settings, client_id, call.body,
                                                 self._actor(call)))

    @api("POST", CLIENT + "/risk", body=RiskSchema, responds=ClientSchema, access=CLIENTS)
    def change_client_risk(self, call, client_id):
        return self._show(call, registry.change_risk(call.tx, client_id, call.body,
                                                    self._actor(call)))

    @handle_events(*consumers.PATTERNS)
    def on_event(self, tx, event):
        """Risk assessed on visits comes back here: intake owns each client's risk."""
        consumers.on_event(tx, event)

"""The intake service: the HTTP API of the client registry."""
from hub.errors import Forbidden
from hub.http import api
from hub.inbox import handle_events
from hub.service import HubService
from intake import clients, consumers
from intake.schemas import (ClientCreateSchema, ClientPageSchema, ClientPatchSchema,
                            ClientQuerySchema, ClientSchema, CloseSchema, ReopenSchema,
                            RiskSchema, TransferSchema)

CLIENT = "/api/v1/clients/<client_id>"
SHOW = ClientSchema()


class IntakeService(HubService):
    name = "intake"

    def _show(self, call, row):
        return SHOW.dump(clients.present(self.db.settings, row))

    def _actor(self, call):
        return call.principal.subject

    @api("POST", "/api/v1/clients", body=ClientCreateSchema, status=201,
         responds=ClientSchema)
    def register_client(self, call):
        row = clients.register(call.tx, self.db.settings, call.body, self._actor(call))
        return self._show(call, row)

    @api("GET", "/api/v1/clients", query=ClientQuerySchema, responds=ClientPageSchema)
    def list_clients(self, call):
        rows, next_cursor = clients.search(call.tx, call.query)
        reveal = self._may_reveal(call)
        return {"items": [SHOW.dump(clients.present(self.db.settings, r, reveal))
                          for r in rows],
                "next_cursor": next_cursor}

    @api("GET", CLIENT, query=ClientQuerySchema, responds=ClientSchema)
    def get_client(self, call, client_id):
        row = clients.get(call.tx, client_id)
        return SHOW.dump(clients.present(self.db.settings, row, self._may_reveal(call)))

    @api("PATCH", CLIENT, body=ClientPatchSchema, responds=ClientSchema)
    def update_client(self, call, client_id):
        return self._show(call, clients.update(call.tx, client_id, call.body, self._actor(call)))

    @api("POST", CLIENT + "/close", body=CloseSchema, responds=ClientSchema)
    def close_client(self, call, client_id):
        return self._show(call, clients.change_status(call.tx, client_id, "close", call.body,
                                                      self._actor(call)))

    @api("POST", CLIENT + "/reopen", body=ReopenSchema, responds=ClientSchema)
    def reopen_client(self, call, client_id):
        return self._show(call, clients.change_status(call.tx, client_id, "reopen", call.body,
                                                      self._actor(call)))

    @api("POST", CLIENT + "/transfer", body=TransferSchema, responds=ClientSchema)
    def transfer_client(self, call, client_id):
        return self._show(call, clients.transfer(call.tx, self.db.settings, client_id, call.body,
                                                 self._actor(call)))

    @api("POST", CLIENT + "/risk", body=RiskSchema, responds=ClientSchema)
    def change_client_risk(self, call, client_id):
        return self._show(call, clients.change_risk(call.tx, client_id, call.body,
                                                    self._actor(call)))

    @handle_events(*consumers.PATTERNS)
    def on_event(self, tx, event):
        """Risk assessed on visits comes back here: intake owns each client's risk."""
        consumers.on_event(tx, event)

    @staticmethod
    def _may_reveal(call):
        if call.query.get("reveal") != "id_number":
            return False
        if not call.principal.may_see_personal_ids:
            raise Forbidden("Your role may not see full ID numbers.",
                            fields={"reveal": ["not allowed for role " + call.principal.role]})
        return True

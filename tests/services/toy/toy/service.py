"""The toy's routes and its consumer: it counts intake's registrations, per township."""
from contracts.events import intake as client_events
from hub.access import COUNTY_ADMINS
from hub.http import api
from hub.inbox import handle_events
from hub.service import HubService
from toy import events


class ToyService(HubService):
    name = "toy"

    @handle_events(client_events.REGISTERED.key)
    def on_event(self, tx, event):
        data = event["data"]
        counted = tx.one("INSERT INTO toy_clients (client_id, township_code) VALUES (%s, %s) "
                         "ON CONFLICT DO NOTHING RETURNING client_id",
                         (data["client_id"], data["township_code"]))
        if counted:
            tx.emit(events.CLIENT_COUNTED.key, f"client/{data['client_id']}",
                    {"client_id": data["client_id"], "township_code": data["township_code"]})

    @api("GET", "/api/v1/toys", access=COUNTY_ADMINS)
    def count(self, call):
        """How many registered clients the toy has counted, per township."""
        rows = call.tx.all("SELECT township_code, count(*) AS n FROM toy_clients "
                           "GROUP BY township_code ORDER BY township_code")
        return {"clients": sum(r["n"] for r in rows),
                "townships": {r["township_code"]: r["n"] for r in rows}}

"""Field clients: the mixed load of a county's station workers, sent the way field apps send it.

Each `FieldWorker` (a thread) keeps its own clients and works on them through the hub's
gateway: registrations, risk changes, closes and reopens, transfers, allocations from its
station's donation, visit completions and activities, a device's offline work sent up in one
POST /sync (registrations and unplanned visits, with ids made on the device) — and, as a person
would, logging in to
the console and out again (its own user of accounts: the first password changed, then sessions
opened and half of them closed; a closed session's token must be refused by every service).
Every write carries an Idempotency-Key and is sent again, with the same key, until the hub
answers it (a dropped connection, a timeout or a 5xx is not an answer); so a write the hub
committed before its answer was lost is never done twice. What the hub answered with success is the truth (`Ledger`) the counts are held
against; a refusal (4xx) is counted and changes no truth.
"""
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import requests

from support.hub import client_body
from visits import roster

OPERATIONS = ("register", "risk", "close", "reopen", "transfer", "donation", "allocation",
              "visit", "activity", "login", "sync")
WEIGHTS = (30, 8, 5, 5, 5, 1, 20, 15, 6, 3, 4)
RISK_LEVELS = ("low", "medium", "high", "critical")
ANSWER_DEADLINE = 120        # seconds a field worker keeps retrying one call


class Unanswered(Exception):
    """The hub gave no answer to a call within ANSWER_DEADLINE: its truth is unknown."""


@dataclass
class Ledger:
    """What the hub said it did, from its successful answers."""
    clients: dict = field(default_factory=dict)        # id -> {"status", "village_code"}
    counts: Counter = field(default_factory=Counter)   # figure -> n
    allocations: dict = field(default_factory=dict)    # id -> fen
    donations: dict = field(default_factory=dict)      # id -> fen
    visits_done: set = field(default_factory=set)
    activities: dict = field(default_factory=dict)     # id -> participants
    sessions_open: set = field(default_factory=set)    # access tokens of sessions still open
    sessions_closed: set = field(default_factory=set)  # … of sessions logged out
    answered: Counter = field(default_factory=Counter)  # operation -> successes
    refused: Counter = field(default_factory=Counter)   # (operation, status) -> n
    retried: Counter = field(default_factory=Counter)   # operation -> calls sent again
    replayed: Counter = field(default_factory=Counter)  # operation -> first answers replayed
    server_errors: Counter = field(default_factory=Counter)  # (operation, status) 5xx seen
    lock: threading.Lock = field(default_factory=threading.Lock)

    def merge(self, other):
        with self.lock:
            self.clients.update(other.clients)
            for name in ("counts", "answered", "refused", "retried", "replayed", "server_errors"):
                getattr(self, name).update(getattr(other, name))
            self.allocations.update(other.allocations)
            self.donations.update(other.donations)
            self.visits_done |= other.visits_done
            self.activities.update(other.activities)
            self.sessions_open |= other.sessions_open
            self.sessions_closed |= other.sessions_closed

    @property
    def operations(self):
        return sum(self.answered.values()) + sum(self.refused.values())


class FieldWorker(threading.Thread):
    """One station worker's app: its own clients, its station's donation, a seeded mix."""

    def __init__(self, number, base_url, token, villages, stop, seed):
        super().__init__(name=f"field-{number}", daemon=True)
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.villages = villages                  # [(township, village)]
        self.stop_event = stop
        self.random = random.Random(seed)
        self.ledger = Ledger()
        self.donation_id = None
        self.error = None
        self.username = f"field{number}-{uuid.uuid4().hex[:6]}"
        self.password = None                      # None: the user is not made yet

    # -- one call, answered ----------------------------------------------------------------------
    def call(self, operation, method, path, body=None, token=None):
        """(status, json) once the hub answers; sends again with the same key until then.
        `token`: a person's session token instead of the worker's ("": none, logging in)."""
        headers = {"Idempotency-Key": str(uuid.uuid4())} if method != "GET" else {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}" if token else None
        deadline = time.monotonic() + ANSWER_DEADLINE
        pause = 0.2
        while True:
            try:
                resp = self.session.request(method, self.base_url + path, json=body,
                                            headers=headers, timeout=15)
                if resp.status_code < 500:
                    if resp.headers.get("Idempotent-Replayed") == "true":
                        # done before, its answer lost on the way (a process killed mid-call)
                        self.ledger.replayed[operation] += 1
                    return resp.status_code, resp.json() if resp.content else None
                self.ledger.server_errors[(operation, resp.status_code)] += 1
            except (requests.ConnectionError, requests.Timeout):
                pass
            if time.monotonic() > deadline:
                raise Unanswered(f"{operation} {method} {path}: no answer in {ANSWER_DEADLINE}s")
            self.ledger.retried[operation] += 1
            time.sleep(pause)
            pause = min(pause * 2, 2.0)

    def succeeded(self, operation, status, ok=(200, 201)):
        if status in ok:
            self.ledger.answered[operation] += 1
            return True
        self.ledger.refused[(operation, status)] += 1
        return False

    # -- the operations ----------------------------------------------------------------------------
    def pick(self, status="active"):
        ids = [cid for cid, c in self.ledger.clients.items() if c["status"] == status]
        return self.random.choice(ids) if ids else None

    def register(self):
        township, village = self.random.choice(self.villages)
        body = client_body(age=self.random.choice((66, 72, 81)), village=village,
                           categories=[self.random.choice(("solitary_elderly",
                                                           "left_behind_elderly"))],
                           risk_level=self.random.choice(RISK_LEVELS))
        status, answer = self.call("register", "POST", "/clients", body)
        if self.succeeded("register", status):
            self.ledger.clients[answer["id"]] = {"status": "active", "village_code": village,
                                                  "risk_level": body["risk_level"]}
            self.ledger.counts["clients_registered"] += 1

    def risk(self):
        client_id = self.pick()
        if client_id:
            client = self.ledger.clients[client_id]
            level = self.random.choice([r for r in RISK_LEVELS if r != client["risk_level"]])
            status, answer = self.call("risk", "POST", f"/clients/{client_id}/risk",
                                       {"risk_level": level, "reason": "复评"})
            if self.succeeded("risk", status):
                client["risk_level"] = level
                self.ledger.counts["clients_risk_changed"] += 1

    def close(self):
        client_id = self.pick()
        if client_id:
            status, answer = self.call("close", "POST", f"/clients/{client_id}/close",
                                       {"reason": "goals_met"})
            if self.succeeded("close", status):
                self.ledger.clients[client_id]["status"] = "closed"
                self.ledger.counts["clients_closed"] += 1

    def reopen(self):
        client_id = self.pick("closed")
        if client_id:
            status, answer = self.call("reopen", "POST", f"/clients/{client_id}/reopen", {})
            if self.succeeded("reopen", status):
                self.ledger.clients[client_id]["status"] = "active"
                self.ledger.counts["clients_reopened"] += 1

    def transfer(self):
        client_id = self.pick()
        if client_id:
            client = self.ledger.clients[client_id]
            _, village = self.random.choice([tv for tv in self.villages
                                             if tv[0] != client["village_code"][:9]])
            status, answer = self.call("transfer", "POST", f"/clients/{client_id}/transfer",
                                       {"village_code": village})
            if self.succeeded("transfer", status):
                client["village_code"] = village
                self.ledger.counts["clients_transferred_in"] += 1
                self.ledger.counts["clients_transferred_out"] += 1

    def donation(self):
        if self.donation_id is None:
            status, provider = self.call("provider", "POST", "/providers", {
                "name": "爱心企业", "kind": "enterprise", "five_society": "social_resource"})
            if not self.succeeded("provider", status):
                return
            self.provider = provider["id"]
            self.ledger.counts["providers_registered"] += 1
        fen = self.random.randrange(5_000_000, 10_000_000)
        status, answer = self.call("donation", "POST", "/donations", {
            "provider_id": self.provider, "kind": "money", "amount_fen": fen,
            "township_code": self.villages[0][0]})
        if self.succeeded("donation", status):
            self.donation_id = answer["id"]
            self.ledger.donations[answer["id"]] = fen
            self.ledger.counts["donations_received"] += 1
            self.ledger.counts["donations_money_fen"] += fen

    def allocation(self):
        client_id = self.pick()
        if client_id and self.donation_id:
            fen = self.random.randrange(100, 5_000)
            status, answer = self.call("allocation", "POST", "/allocations", {
                "donation_id": self.donation_id, "client_id": client_id, "amount_fen": fen})
            if self.succeeded("allocation", status):
                self.ledger.allocations[answer["id"]] = fen
                self.ledger.counts["allocations_person_times"] += 1
                self.ledger.counts["allocations_value_fen"] += fen

    def visit(self):
        client_id = self.pick()
        if not client_id:
            return
        status, page = self.call("visit", "GET", f"/visits?client_id={client_id}&status=scheduled")
        if status != 200 or not page["items"]:
            return              # not planned yet: visits has not heard of the client
        visit = page["items"][0]
        visited = (datetime.now(timezone.utc) - timedelta(seconds=1)).isoformat()
        # a visit no worker had capacity for is made by the station's first social worker
        worker = visit["worker_id"] or str(roster.worker_id(visit["township_code"][:6],
                                                            f"{visit['township_code']}-S1"))
        status, answer = self.call("visit", "POST", f"/visits/{visit['id']}/complete",
                                   {"visited_at": visited, "mode": "home", "worker_id": worker})
        if self.succeeded("visit", status):
            self.ledger.visits_done.add(visit["id"])
            self.ledger.counts["visits_done"] += 1

    def activity(self):
        township, _ = self.random.choice(self.villages)
        ids = [cid for cid, c in self.ledger.clients.items()
               if c["status"] == "active" and c["village_code"].startswith(township)]
        if not ids:
            return
        people = self.random.sample(ids, min(len(ids), self.random.randint(1, 3)))
        status, answer = self.call("activity", "POST", "/activities", {
            "station": township, "kind": "group_work", "title": "小组活动",
            "held_on": date.today().isoformat(), "participants": people})
        if self.succeeded("activity", status):
            self.ledger.activities[answer["id"]] = len(people)
            self.ledger.counts["activities_held"] += 1
            self.ledger.counts["activities_person_times"] += len(people)

    def login(self):
        """Log in as this worker's own user (made, and its first password changed, the first
        time), then log out half the time. A retry that meets 401 after a password change or a
        log out means the first try was done (its answer lost): its token is revoked already."""
        township, _ = self.villages[0]
        if self.password is None:
            first = "first password 1"
            status, _ = self.call("login", "POST", "/users", {
                "username": self.username, "role": "station_worker", "township": township,
                "password": first})
            if status not in (201, 409):            # 409: made by a try whose answer was lost
                return self.succeeded("login", status)
            status, first_session = self.call("login", "POST", "/session", {
                "username": self.username, "password": first}, token="")
            if not self.succeeded("login", status, ok=(201,)):
                return
            status, _ = self.call("login", "POST", "/session/password", {
                "current_password": first, "new_password": "field work 2"},
                token=first_session["access_token"])
            if not self.succeeded("login", status, ok=(200, 401)):
                return
            self.password = "field work 2"
            self.ledger.sessions_closed.add(first_session["access_token"])
        status, answer = self.call("login", "POST", "/session", {
            "username": self.username, "password": self.password}, token="")
        if not self.succeeded("login", status, ok=(201,)):
            return
        token = answer["access_token"]
        if self.random.random() < 0.5:
            self.ledger.sessions_open.add(token)
            return
        status, _ = self.call("login", "DELETE", "/session", token=token)
        if self.succeeded("login", status, ok=(204, 401)):
            self.ledger.sessions_closed.add(token)

    def sync(self):
        """A device's queued work in one batch: a new client and a visit to them, and a visit to
        a client of this worker's; sent again, the same batch, until it is answered (each
        operation answers `already_applied` once done)."""
        township, village = self.random.choice(self.villages)
        new = {**client_body(age=self.random.choice((66, 72, 81)), village=village,
                             categories=["solitary_elderly"], risk_level="medium"),
               "id": str(uuid.uuid4())}
        visited = (datetime.now(timezone.utc) - timedelta(seconds=1)).isoformat()

        def unplanned(client_id, station):
            return {"id": str(uuid.uuid4()), "client_id": client_id, "visited_at": visited,
                    "mode": "home",
                    "worker_id": str(roster.worker_id(station[:6], f"{station}-S1"))}
        operations = [("client.register", new), ("visit.record", unplanned(new["id"], township))]
        known = self.pick()
        if known:
            station = self.ledger.clients[known]["village_code"][:9]
            operations.append(("visit.record", unplanned(known, station)))
        status, answer = self.call("sync", "POST", "/sync", {
            "device_id": f"tablet-{self.username}", "operations": [
                {"op_id": str(uuid.uuid4()), "kind": kind, "data": data}
                for kind, data in operations]})
        if not self.succeeded("sync", status):
            return
        for (kind, data), result in zip(operations, answer["results"], strict=True):
            if result["status"] not in ("applied", "already_applied"):
                self.ledger.refused[(f"sync {kind}", result["status"])] += 1
            elif kind == "client.register":
                self.ledger.clients[data["id"]] = {"status": "active", "village_code": village,
                                                   "risk_level": "medium"}
                self.ledger.counts["clients_registered"] += 1
            else:
                self.ledger.visits_done.add(data["id"])
                self.ledger.counts["visits_done"] += 1

    def run(self):
        try:
            self.donation()
            while not self.stop_event.is_set():
                getattr(self, self.random.choices(OPERATIONS, WEIGHTS)[0])()
        except Exception as exc:        # Unanswered, or a bug: the harness reports it
            self.error = exc

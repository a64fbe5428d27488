"""Benchmark: one POST /api/v1/sync of 500 operations beside the same 500 single calls.

A private hub (intake, visits, the gateway) runs in this process on the real PostgreSQL and
RabbitMQ. The batch is half registrations (each with a device-made id), half unplanned visits
(POST /api/v1/visits) of clients visits already knows, interleaved; the sync hands each service
its operations in groups (gateway/sync.py, hub/call_groups.py). The raw baseline, measured in
the same run, sends calls of the same shapes one by one over HTTP through the gateway. Prints
both times, the same batch sent again, operations/s and the load average. Not part of `make
test`; it asserts no times.

    .venv/bin/python tests/perf/bench_sync.py        (BENCH_OPS, default 500)
"""
import os

os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import secrets  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import date, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).parents[1]))

from support.hub import client_body, running_hub, test_settings, wait_for  # noqa: E402

OPS = int(os.environ.get("BENCH_OPS", "500"))
START = (date.today() - timedelta(days=30)).isoformat()
VISITED = (date.today() - timedelta(days=1)).isoformat() + "T10:00:00"


def known_clients(api, hub, n):
    """n clients registered (untimed) and known to visits."""
    ids = []
    for _ in range(n):
        resp = api.post("/clients", json=client_body(effective_date=START))
        assert resp.status_code == 201, resp.text
        ids.append(resp.json()["id"])
    with hub.db("visits") as conn:
        wait_for(lambda: conn.execute("SELECT count(*) FROM visit_clients WHERE client_id = "
                                      "ANY(%s::uuid[])", (ids,)).fetchone()[0] == n, timeout=120)
    return ids


def operations(clients, worker):
    """Half registrations, half visit records, interleaved: [(kind, data)]."""
    ops = []
    for client_id in clients:
        ops.append(("client.register", {**client_body(), "id": str(uuid.uuid4())}))
        ops.append(("visit.record", {"id": str(uuid.uuid4()), "client_id": client_id,
                                     "visited_at": VISITED, "mode": "home", "worker_id": worker}))
    return ops


PATHS = {"client.register": "/clients", "visit.record": "/visits"}


def main():
    settings = test_settings(prefix=f"bsync{secrets.token_hex(3)}", HUB_SERVICES="intake,visits")
    with running_hub(settings, ["intake", "visits", "gateway"]) as hub:
        api = hub.client()
        wait_for(lambda: api.get("/health").status_code == 200, timeout=60, interval=0.3)
        worker = api.get("/visits/workers",
                         params={"township_code": "341721100"}).json()["items"][0]["id"]
        clients = known_clients(api, hub, OPS)
        single, batch = operations(clients[:OPS // 2], worker), operations(clients[OPS // 2:], worker)

        started = time.perf_counter()
        for kind, data in single:
            resp = api.post(PATHS[kind], json=data)
            assert resp.status_code == 201, resp.text
        raw = time.perf_counter() - started

        body = {"device_id": "bench", "operations": [
            {"op_id": str(uuid.uuid4()), "kind": kind, "data": data} for kind, data in batch]}
        started = time.perf_counter()
        resp = api.post("/sync", json=body)
        synced = time.perf_counter() - started
        assert resp.status_code == 200, resp.text
        assert {r["status"] for r in resp.json()["results"]} == {"applied"}, resp.text

        started = time.perf_counter()
        again = api.post("/sync", json=body)
        replayed = time.perf_counter() - started
        assert {r["status"] for r in again.json()["results"]} == {"already_applied"}

    n = len(batch)
    print(f"{n} operations ({n // 2} registrations, {n // 2} unplanned visits)")
    print(f"  single calls one by one over HTTP: {raw:6.2f} s  {n / raw:6.0f} ops/s")
    print(f"  one POST /api/v1/sync:             {synced:6.2f} s  {n / synced:6.0f} ops/s")
    print(f"  the same batch again (replayed):   {replayed:6.2f} s  {n / replayed:6.0f} ops/s")
    print(f"  load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}, "
          f"{os.cpu_count()} cores")


if __name__ == "__main__":
    main()

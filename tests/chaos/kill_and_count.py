"""Kill-and-count: a county hub, its prefecture's aggregator and the provincial aggregator
(county -> prefecture -> province, linked by shovels), run as production runs them, take a mixed
field load while their broker, database, processes and links are broken; afterwards every copy
of every record and figure is counted against what the hub answered.

    python tests/chaos/kill_and_count.py [--profile short|long] [--seed N]

`make chaos` runs the long profile; `make test` runs the short one (tests/integration/
test_kill_and_count.py). The faults, in each round: RabbitMQ stopped and started twice,
PostgreSQL restarted, each county service (gateway included) and both aggregators' stats
SIGKILLed and started again, the county's link to the prefecture and the prefecture's to the
province cut and healed. No operator acts: the hubs must converge on their own. Prints a table
of operations, faults, checks (truth, found, lost, doubled) and the seconds to converge after the
last fault; exits 1 on any difference. Everything runs on this machine (127.0.0.1) in three
broker vhosts and databases of its own, which it removes at the end.
"""
import argparse
import socket
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))        # tests/: support, chaos

from chaos import tally  # noqa: E402
from chaos.field import FieldWorker, Ledger  # noqa: E402
from chaos.fleet import Faults, Hub, rabbitmqctl, wait_until  # noqa: E402
from hub.auth import issue_token  # noqa: E402
from hub.manifest import manifests  # noqa: E402
from support.hub import cleanup_hub, test_settings  # noqa: E402

PROVINCE = "340000"
COUNTY_SERVICES = tuple(manifests())     # every service a county hub runs, the gateway too
FAST = {"HUB_STATS_HEARTBEAT_SECONDS": "1", "HUB_STATS_GAUGES_SECONDS": "1",
        "HUB_RETRY_BASE_SECONDS": "0.5", "HUB_RETRY_ATTEMPTS": "5"}


class Profile:
    def __init__(self, workers, rounds, gap, min_operations, converge):
        self.workers = workers                  # field workers (threads) sending the load
        self.rounds = rounds                    # times the whole list of faults is done
        self.gap = gap                          # seconds of plain load between two faults
        self.min_operations = min_operations    # the load goes on after the faults until then
        self.converge = converge                # seconds allowed to catch up after the last


PROFILES = {"short": Profile(workers=4, rounds=1, gap=1.5, min_operations=300, converge=120),
            "long": Profile(workers=8, rounds=3, gap=8.0, min_operations=4000, converge=600)}


def schedule(county, city, province_hub, faults):
    """One round of faults: (name, action)."""
    kill = lambda hub, service: (f"SIGKILL {hub.name} {service}",              # noqa: E731
                                 lambda: hub.kill(service))
    return [("RabbitMQ stop/start", faults.broker_stop_start),
            kill(county, "intake"), kill(county, "visits"),
            ("PostgreSQL restart", faults.postgres_restart),
            kill(county, "resources"), kill(county, "stats"),
            ("RabbitMQ stop/start", faults.broker_stop_start),
            kill(county, "gateway"), kill(county, "accounts"), kill(city, "stats"),
            kill(province_hub, "stats"),
            ("county link cut and healed", faults.link_cut_and_heal),
            ("prefecture link cut and healed", faults.forward_cut_and_heal)]


def free_port_offset():
    """A port offset whose ports no one listens on, above the range test_settings() hands out
    (the suite's own hubs run while this does: two hubs on one port would share requests)."""
    for offset in range(23_500, 24_700, 100):
        ports = [8000 + offset + d for d in range(60)]
        if not any(_taken(port) for port in ports):
            return offset
    raise RuntimeError("no free ports for the hubs between 31500 and 32760")


def _taken(port):
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def amqp_uri(vhost):
    return f"amqp://guest:guest@127.0.0.1:5672/{vhost}"


def run(profile, seed, out=print):
    tag = uuid.uuid4().hex[:6]
    vhosts = {"county": f"chaos-county-{tag}", "prefecture": f"chaos-prefecture-{tag}",
              "province": f"chaos-province-{tag}"}
    for vhost in vhosts.values():
        rabbitmqctl("add_vhost", vhost)
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    offset = free_port_offset()
    county = Hub("county", test_settings(prefix=f"kc{tag}", HUB_AMQP_URI=amqp_uri(
        vhosts["county"]), HUB_PORT_OFFSET=str(offset), **FAST), COUNTY_SERVICES, FAST)
    code = county.settings.county.code
    prefecture = code[:4] + "00"
    city = Hub("prefecture", test_settings(prefix=f"km{tag}", HUB_AMQP_URI=amqp_uri(
        vhosts["prefecture"]), HUB_PORT_OFFSET=str(offset + 40), **FAST), ["stats"],
        {**FAST, "HUB_ROLE": "prefecture", "HUB_PROVINCE_CODE": prefecture})
    province_hub = Hub("province", test_settings(prefix=f"kp{tag}", HUB_AMQP_URI=amqp_uri(
        vhosts["province"]), HUB_PORT_OFFSET=str(offset + 50), **FAST), ["stats"],
        {**FAST, "HUB_ROLE": "province", "HUB_PROVINCE_CODE": PROVINCE})
    hubs = (county, city, province_hub)
    faults = Faults(county, city, province_hub, code)
    try:
        for hub in hubs:
            hub.set_up()
        faults.link()           # first: the county's outbox queue holds all from the first event
        for hub in hubs:
            hub.start_all()
        out(f"kill-and-count: county {code} -> prefecture {prefecture} -> province {PROVINCE} up "
            f"(prefixes {', '.join(h.settings.db_prefix for h in hubs)})")
        return load_break_and_count(profile, seed, hubs, faults, code, prefecture, out)
    finally:
        for hub in hubs:
            hub.stop_all()
        try:
            faults.unlink()
        except Exception as exc:          # never linked, or already gone
            out(f"(unlink: {exc})")
        for hub in hubs:
            cleanup_hub(hub.settings)
        for vhost in vhosts.values():
            rabbitmqctl("delete_vhost", vhost)


def load_break_and_count(profile, seed, hubs, faults, code, prefecture, out):
    county, city, province_hub = hubs
    villages = [(code, village) for code, town in county.settings.county.townships.items()
                for village in town.villages][:8]
    stop = threading.Event()
    token = issue_token(county.settings, "field", "county_admin")
    workers = [FieldWorker(n, county.settings.service_url("gateway") + "/api/v1", token,
                           villages, stop, seed * 100 + n) for n in range(profile.workers)]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    done = []                               # (fault, at seconds, took seconds)
    for round_ in range(profile.rounds):
        for name, action in schedule(county, city, province_hub, faults):
            time.sleep(profile.gap)
            at = time.monotonic()
            out(f"  fault {len(done) + 1}: {name} (round {round_ + 1})")
            action()
            done.append((name, at - started, time.monotonic() - at))
    last_fault = time.monotonic()

    def operations():
        return sum(w.ledger.operations for w in workers)
    wait_until(lambda: operations() >= profile.min_operations or any(
        not w.is_alive() for w in workers), 600, what="the operations")
    stop.set()
    for worker in workers:
        worker.join(timeout=400)
    load_end = time.monotonic()
    load_seconds = load_end - started
    ledger = Ledger()
    for worker in workers:
        ledger.merge(worker.ledger)
    errors = [f"{w.name}: {w.error!r}" for w in workers if w.error or w.is_alive()]

    rows = []

    def caught_up():
        rows[:] = tally.count(hubs, ledger, code, prefecture, PROVINCE)
        return not tally.differences(rows)
    try:
        wait_until(caught_up, profile.converge, interval=1.0, what="every count")
        converged = (time.monotonic() - last_fault, time.monotonic() - load_end)
    except TimeoutError:
        converged = None
    audit_code, audit_output = county.hub_command("audit", "verify")
    report(out, ledger, done, rows, converged, load_seconds, audit_output)
    for hub in hubs:
        for service, code in hub.exits:
            out(f"{hub.name} {service} exited by itself (code {code}) and was started again")
    for line in errors:
        out("field worker failed: " + line)
    internal = sum(n for (_, status), n in ledger.server_errors.items() if status == 500)
    if internal:
        out(f"answers 500 (a defect: a fault must be answered 503, try again): {internal}")
    ok = converged is not None and audit_code == 0 and not errors and not internal
    out("RESULT: " + ("every figure exact" if ok else "DIFFERENCES (see above)"))
    return ok


def report(out, ledger, faults, rows, converged, load_seconds, audit_output):
    refused = {}
    for (operation, status), n in ledger.refused.items():
        refused.setdefault(operation, []).append(f"{n}×{status}")
    errors = {}
    for (operation, status), n in ledger.server_errors.items():
        errors.setdefault(operation, []).append(f"{n}×{status}")
    out(f"\n{ledger.operations} operations in {load_seconds:.0f} s, {len(faults)} faults")
    out(f"{'operation':12} {'answered':>9} {'refused':>16} {'sent again':>11} {'replayed':>9}"
        "  5xx seen (sent again)")
    for operation in sorted({*ledger.answered, *refused, *ledger.retried}):
        out(f"{operation:12} {ledger.answered[operation]:>9} "
            f"{' '.join(refused.get(operation, [])) or '-':>16} "
            f"{ledger.retried[operation]:>11} {ledger.replayed[operation]:>9}  "
            f"{' '.join(errors.get(operation, [])) or '-'}")
    out(f"\n{'fault':36} {'at s':>6} {'took s':>7}")
    for name, at, took in faults:
        out(f"{name:36} {at:>6.1f} {took:>7.1f}")
    out(f"\n{'check':52} {'truth':>10} {'found':>10} {'lost':>6} {'doubled':>8}")
    for row in rows:
        mark = "" if row.agrees else "   <-- differs"
        out(f"{row.check:52} {row.truth:>10} {row.found:>10} {row.lost:>6} {row.doubled:>8}{mark}")
    out("\naudit chain: " + audit_output.strip().replace("\n", "; "))
    out("converged: " + ("{:.1f} s after the last fault ({:.1f} s after the load stopped)".format(
        *converged) if converged is not None else "NO, within the time allowed"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="short")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    missing = Faults.missing_tools()
    if missing:
        print(f"kill-and-count needs {', '.join(missing)} on this machine (the local RabbitMQ "
              "and PostgreSQL it stops and restarts)", file=sys.stderr)
        return 2
    return 0 if run(PROFILES[args.profile], args.seed) else 1


if __name__ == "__main__":
    sys.exit(main())

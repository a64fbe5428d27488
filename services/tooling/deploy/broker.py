"""RabbitMQ definitions for a county hub and for the province, made from the hub's own topology
and the services' manifests (deploy/rabbitmq/definitions.py is their command line; `hub deploy
render` writes the committed examples deploy/rabbitmq/county-341721.json and province.json).

Which services consume which event types is read from the services themselves
(`hub.topology.consumer_subscriptions()`), and what each may do besides from its manifest's
broker grants, so the queues, bindings and permissions here are exactly the ones the services
declare and `hub setup` gives, and regenerating after a service changes keeps them in step.

    definitions.py county 341721 [--passwords-from-env] > county-341721.json
    definitions.py province [--county 341721=amqps://hub-341721.example:5671] > province.json
    definitions.py add-county 341721 --county-broker amqps://hub-341721.example:5671 [--apply]

A county vhost `county-<code>` holds the exchange `hub.events`, one quorum queue per consuming
service (`hub.<service>.inbox`), the link queue `hub.province.outbox` (every event, kept until
the province has it) and the dead-letter exchange and queue. A policy gives every inbox a
delivery limit and at-least-once dead-lettering. Users: one per service (least privilege), the
set-up job's, the province's link user (may only consume the link queue), a read-only
subscriber and an administrator for operators. A service granted direct publishing (stats: the
link's heartbeat) may also write to `amq.default`. The province pulls each county's events with
a dynamic shovel `province-<code>` (in the province broker) from the county's link queue into
the exchange `province.province`, whose queue `province.province.ingest` the province's
services (those whose grants name broker objects: the provincial aggregator, stats) consume
(the names of services/stats/province.py): `add-county` makes that shovel.

Passwords: without --passwords-from-env every `password_hash` is empty (the user cannot log in
until `rabbitmqctl change_password` sets one). With it, each role's password is read from
HUB_AMQP_PASSWORD_<ROLE> (e.g. HUB_AMQP_PASSWORD_INTAKE) and only its salted hash is written.
A shovel URI must carry the link user's password: it is read from HUB_LINK_PASSWORD, and
otherwise a placeholder is written. Use URL-safe passwords (e.g. `openssl rand -hex 24`).
"""
import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import sys
from pathlib import Path
from urllib.parse import quote, urlsplit

from hub.manifest import data_services, manifest
from tooling.deploy.roles import direct_publishers, province_services
from tooling.privileges import broker_permissions  # what `hub setup` gives a service's user

HASHING = "rabbit_password_hashing_sha256"
DELIVERY_LIMIT = 1000          # redeliveries before a message is dead-lettered (see README.md)
LINK_QUEUE = "province.outbox"  # <prefix>.province.outbox: what the province has not taken yet
LINK_PREFETCH = 500
PROVINCE_VHOST = "province"
PROVINCE_PREFIX = "province"
SHOVEL_PREFIX = "province-"    # a county's link is the shovel province-<code> (as stats names it)
LINK_PASSWORD_PLACEHOLDER = "LINK_PASSWORD"
TLS_CA_FILE = "/etc/rabbitmq/tls/ca.pem"   # the province broker's CA file for amqps:// links


def password_hash(password, salt=None):
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password))."""
    if not password:
        return ""
    salt = salt or secrets.token_bytes(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def county_vhost(code):
    return f"county-{code}"


def user_name(vhost, role):
    return f"{vhost}-{role}"


def _exchange(vhost, name, kind):
    return {"name": name, "vhost": vhost, "type": kind, "durable": True, "auto_delete": False,
            "internal": False, "arguments": {}}


def _queue(vhost, name):
    # exactly the arguments the services declare (hub.topology): anything more, and their
    # declaration would fail as inequivalent; limits come from the policy instead
    return {"name": name, "vhost": vhost, "durable": True, "auto_delete": False,
            "arguments": {"x-queue-type": "quorum"}}


def _binding(vhost, exchange, queue, key):
    return {"source": exchange, "vhost": vhost, "destination": queue,
            "destination_type": "queue", "routing_key": key, "arguments": {}}


def _user(vhost, role, passwords):
    return {"name": user_name(vhost, role), "password_hash": password_hash(passwords.get(role)),
            "hashing_algorithm": HASHING, "tags": []}


def _permission(vhost, role, configure, write, read):
    return {"user": user_name(vhost, role), "vhost": vhost,
            "configure": configure, "write": write, "read": read}


def _granted(prefix, service):
    """The exchanges and queues under `prefix` the service's manifest grants it."""
    return tuple(f"{prefix}.{name}" for name in manifest(service).grants.objects)


def _hub_objects(vhost, prefix, subscriptions, passwords, services, extra_queues,
                 delivery_limit=DELIVERY_LIMIT, ingest=None, direct=()):
    """The objects every hub broker (county or province) has, for the given consumers;
    `ingest`: the province's (exchange, queue), which the services whose grants name them
    declare and consume; `direct`: services that also publish through the default exchange."""
    p = re.escape(prefix)
    inbox = {s: f"{prefix}.{s}.inbox" for s in subscriptions}
    events, dead = f"{prefix}.events", f"{prefix}.dead"
    # `hub setup` declares the exchange, every inbox with its bindings and the ingest
    hub_objects = broker_permissions(prefix, "setup", subscriptions, ingest or ())["configure"]
    users = [_user(vhost, role, passwords) for role in (*services, "setup", "reader")]
    # operators (management UI); the broker makes no default user when it loads definitions
    users.append({**_user(vhost, "admin", passwords), "tags": ["administrator"]})
    permissions = [
        _permission(vhost, s, **broker_permissions(prefix, s, subscriptions,
                                                   _granted(prefix, s) if ingest else (),
                                                   direct=s in direct))
        for s in services]
    permissions += [
        _permission(vhost, "admin", ".*", ".*", ".*"),
        _permission(vhost, "setup", hub_objects, hub_objects, f"^{p}\\.events$"),
        # a subscriber may only make server-named queues of its own and bind them to the exchange
        _permission(vhost, "reader", "^amq\\.gen-.*", "^amq\\.gen-.*",
                    f"^({p}\\.events|{re.escape(ingest[0]) + '|' if ingest else ''}amq\\.gen-.*)$"),
    ]
    queues = [*(inbox[s] for s in sorted(subscriptions)), *extra_queues, f"{prefix}.dead-letter"]
    bindings = [_binding(vhost, events, inbox[s], key)
                for s in sorted(subscriptions) for key in subscriptions[s]]
    bindings.append(_binding(vhost, dead, f"{prefix}.dead-letter", ""))
    exchanges = [_exchange(vhost, events, "topic"), _exchange(vhost, dead, "fanout")]
    limited = "[^.]+\\.inbox"
    if ingest:
        exchanges.append(_exchange(vhost, ingest[0], "topic"))
        queues.insert(0, ingest[1])
        bindings.append(_binding(vhost, ingest[0], ingest[1], "#"))
        limited = f"({limited}|{re.escape(ingest[1][len(prefix) + 1:])})"
    return {
        "vhosts": [{"name": vhost}],
        "users": users,
        "permissions": permissions,
        "exchanges": exchanges,
        "queues": [_queue(vhost, q) for q in queues],
        "bindings": bindings,
        "policies": [{
            "vhost": vhost, "name": f"{prefix}-inbox", "pattern": f"^{p}\\.{limited}$",
            "apply-to": "queues", "priority": 1,
            "definition": {"delivery-limit": delivery_limit, "dead-letter-exchange": dead,
                           "dead-letter-strategy": "at-least-once",
                           "overflow": "reject-publish"}}],
    }


def hub_subscriptions():
    from hub import topology
    return topology.consumer_subscriptions()


def county_definitions(code, *, prefix="hub", vhost=None, passwords=None, subscriptions=None,
                       services=None, delivery_limit=DELIVERY_LIMIT):
    """The definitions of county `code`'s broker (its vhost and everything in it)."""
    vhost = vhost or county_vhost(code)
    subs = hub_subscriptions() if subscriptions is None else subscriptions
    services = tuple(data_services() if services is None else services)
    link_queue = f"{prefix}.{LINK_QUEUE}"
    defs = _hub_objects(vhost, prefix, subs, passwords or {}, services, [link_queue],
                        delivery_limit, direct=direct_publishers())
    defs["users"].append(_user(vhost, "link", passwords or {}))
    # the province's link: consume the link queue, nothing else
    defs["permissions"].append(
        _permission(vhost, "link", "^$", "^$", f"^{re.escape(link_queue)}$"))
    defs["bindings"].append(_binding(vhost, f"{prefix}.events", link_queue, "#"))
    return defs


def ingest_names(province_prefix):
    """The province's exchange the links deliver to and the queue its aggregator consumes
    (named as services/stats/province.py names them)."""
    return f"{province_prefix}.province", f"{province_prefix}.province.ingest"


def province_definitions(*, vhost=PROVINCE_VHOST, prefix=PROVINCE_PREFIX, passwords=None,
                         counties=(), link_password=None, subscriptions=None,
                         delivery_limit=DELIVERY_LIMIT):
    """The province broker: the ingest exchange and queue (every county's events, kept from the
    first link on even before the aggregator first runs), what the hub chassis declares under
    the province's prefix, and one shovel per county."""
    subs = hub_subscriptions() if subscriptions is None else subscriptions
    defs = _hub_objects(vhost, prefix, subs, passwords or {}, province_services(), [],
                        delivery_limit, ingest=ingest_names(prefix))
    defs["parameters"] = [
        county_link(code, broker, link_password=link_password, province_vhost=vhost,
                    province_prefix=prefix)
        for code, broker in counties]
    return defs


def county_link(code, county_broker, *, link_password=None, county_vhost_name=None,
                county_prefix="hub", province_vhost=PROVINCE_VHOST,
                province_prefix=PROVINCE_PREFIX, ca_file=TLS_CA_FILE):
    """The province's shovel that moves county `code`'s events into `province.province`.

    `county_broker` is scheme://host:port of the county's broker as the province reaches it
    (amqps://…:5671 across networks: the county broker's certificate is verified against
    `ca_file`). Confirms on both sides: a message leaves the county's link queue only once the
    province broker has it.
    """
    vhost = county_vhost_name or county_vhost(code)
    user = user_name(vhost, "link")
    password = link_password or LINK_PASSWORD_PLACEHOLDER
    src = (f"{county_broker.rstrip('/').replace('://', f'://{quote(user)}:{quote(password)}@', 1)}"
           f"/{quote(vhost, safe='')}")
    if county_broker.startswith("amqps://"):
        host = urlsplit(county_broker).hostname
        src += f"?cacertfile={ca_file}&verify=verify_peer&server_name_indication={host}"
    return {
        "component": "shovel", "vhost": province_vhost, "name": f"{SHOVEL_PREFIX}{code}",
        "value": {
            "src-protocol": "amqp091", "src-uri": src,
            "src-queue": f"{county_prefix}.{LINK_QUEUE}", "src-prefetch-count": LINK_PREFETCH,
            "src-delete-after": "never",
            "dest-protocol": "amqp091", "dest-uri": f"amqp:///{quote(province_vhost, safe='')}",
            "dest-exchange": ingest_names(province_prefix)[0], "dest-add-forward-headers": False,
            "ack-mode": "on-confirm", "reconnect-delay": 5,
        },
    }


def passwords_from_env(roles, env=os.environ):
    missing = [r for r in roles if not env.get(f"HUB_AMQP_PASSWORD_{r.upper()}")]
    if missing:
        raise SystemExit("set " + ", ".join(f"HUB_AMQP_PASSWORD_{r.upper()}" for r in missing))
    return {r: env[f"HUB_AMQP_PASSWORD_{r.upper()}"] for r in roles}


def set_parameters(defs):
    """Set the definitions' runtime parameters (the shovels) on the province broker through its
    management API, as every broker change of the hub is made (hub.broker_admin: at
    HUB_AMQP_ADMIN_URL, as HUB_AMQP_ADMIN_URI's user)."""
    from hub.broker_admin import BrokerAdmin
    from hub.config import Settings
    admin = BrokerAdmin.for_settings(Settings.from_env())
    for parameter in defs["parameters"]:
        admin.vhost = parameter["vhost"]        # each parameter names its own vhost
        admin.set_parameter(parameter["component"], parameter["name"], parameter["value"])


def county_roles():
    return (*data_services(), "setup", "link", "reader", "admin")


def province_roles():
    return (*province_services(), "setup", "reader", "admin")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    county = sub.add_parser("county", help="a county broker's definitions")
    county.add_argument("code", help="the county's 6-digit code, e.g. 341721")
    province = sub.add_parser("province", help="the province broker's definitions")
    province.add_argument("--county", action="append", default=[], metavar="CODE=BROKER_URL",
                          help="link this county (repeatable); BROKER_URL like amqps://host:5671")
    add = sub.add_parser("add-county", help="the province's link (shovel) to a new county")
    add.add_argument("code")
    add.add_argument("--county-broker", required=True, help="e.g. amqps://hub-341721.example:5671")
    add.add_argument("--county-vhost", default=None, help="default county-<code>")
    add.add_argument("--apply", action="store_true",
                     help="set it on the province broker through its management API "
                          "(HUB_AMQP_ADMIN_URL, HUB_AMQP_ADMIN_URI's user; nothing is written "
                          "to disk)")
    for p in (county, province, add):
        p.add_argument("--vhost", default=None,
                       help="the vhost made (county: county-<code>) or linked into (province)")
        p.add_argument("--out", default="-", help="file to write (default: standard output)")
        p.add_argument("--mode", default="600", help="the --out file's permissions (octal)")
    for p in (county, province):
        p.add_argument("--passwords-from-env", action="store_true",
                       help="hash HUB_AMQP_PASSWORD_<ROLE> for each user (else empty hashes)")
    args = parser.parse_args(argv)

    link_password = os.environ.get("HUB_LINK_PASSWORD")
    if args.command == "county":
        passwords = passwords_from_env(county_roles()) if args.passwords_from_env else {}
        defs = county_definitions(args.code, vhost=args.vhost, passwords=passwords)
    elif args.command == "province":
        passwords = passwords_from_env(province_roles()) if args.passwords_from_env else {}
        counties = [tuple(c.split("=", 1)) for c in args.county]
        if args.passwords_from_env and counties and not link_password:
            raise SystemExit("set HUB_LINK_PASSWORD (the counties' link user password)")
        defs = province_definitions(vhost=args.vhost or PROVINCE_VHOST, passwords=passwords,
                                    counties=counties, link_password=link_password)
    else:
        defs = {"parameters": [county_link(args.code, args.county_broker,
                                           link_password=link_password,
                                           county_vhost_name=args.county_vhost,
                                           province_vhost=args.vhost or PROVINCE_VHOST)]}
        if args.apply:
            if not link_password:
                raise SystemExit("set HUB_LINK_PASSWORD (the county's link user password)")
            set_parameters(defs)
            print(f"county {args.code}: shovel {SHOVEL_PREFIX}{args.code} added to the province "
                  "broker; `hub province status` shows it running", file=sys.stderr)
            return
    if not link_password and defs.get("parameters"):
        print(f"note: shovel URIs carry the placeholder {LINK_PASSWORD_PLACEHOLDER}; "
              "set HUB_LINK_PASSWORD for real ones", file=sys.stderr)
    text = json.dumps(defs, indent=2, ensure_ascii=False) + "\n"
    if args.out == "-":
        sys.stdout.write(text)
    else:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, int(args.mode, 8))
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(args.out, int(args.mode, 8))


if __name__ == "__main__":
    main()

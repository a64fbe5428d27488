"""docker-compose.yml: its two generated sections. The first holds the extension fields (YAML
anchors) the hand-written services merge: every service's own credentials, the broker users'
passwords, the gateway's upstreams, and what the province profile runs. The second holds one
compose service per hub service, the gateway included."""
from hub.manifest import manifest
from tooling.deploy.broker import county_roles, province_roles
from tooling.deploy.roles import (
    GATEWAY,
    county_services,
    env_name,
    every_service,
    port,
    province_services,
    upstreams,
)

COMPOSE = "docker-compose.yml"
COUNTY = "${HUB_COUNTY:-341721}"


def required(variable):
    return f"${{{variable}:?set {variable}}}"


def credentials(name):
    """A county service's own database and broker connections (variable, value)."""
    pg = required(env_name("HUB_PG_PASSWORD", name))
    amqp = required(env_name("HUB_AMQP_PASSWORD", name))
    return [(env_name("HUB_PG_DSN", name),
             f"host=postgres port=5432 user=hub_{name} password={pg}"),
            (env_name("HUB_AMQP_URI", name),
             f"amqp://county-{COUNTY}-{name}:{amqp}@rabbitmq:5672/county-{COUNTY}")]


def province_credentials(name):
    pg, amqp = env_name("PROVINCE_PG_PASSWORD", name), env_name("PROVINCE_AMQP_PASSWORD", name)
    return [(env_name("HUB_PG_DSN", name),
             f"host=postgres port=5432 user=province_{name} password=${{{pg}:-}}"),
            (env_name("HUB_AMQP_URI", name),
             f"amqp://province-{name}:${{{amqp}:-}}@province-rabbitmq:5672/province")]


def mapping(pairs, quote=True):
    return [f'  {key}: "{value}"' if quote else f"  {key}: {value}" for key, value in pairs]


def anchors():
    """The first section: extension fields at the top level."""
    province = province_services()
    return [
        "# every service's own credentials: each service gets its own, the set-up job all of",
        "# them (it makes the database roles, and leaves the broker users, which the definitions",
        "# made, alone)",
        "x-service-credentials: &service-credentials",
        *mapping(pair for name in county_services() for pair in credentials(name)),
        "# the broker users' passwords, hashed into the county's definitions by broker-definitions",
        "x-broker-passwords: &broker-passwords",
        *mapping(((env_name("HUB_AMQP_PASSWORD", role),
                   required(env_name("HUB_AMQP_PASSWORD", role))) for role in county_roles()),
                 quote=False),
        "# the services answering API paths: where the gateway finds them, and what it and the",
        "# front door start after",
        "x-upstreams: &upstreams",
        *mapping(((env_name("HUB_URL", name), f"http://{name}:{port(name)}")
                  for name in upstreams()), quote=False),
        "x-upstreams-started: &upstreams-started",
        *mapping(((name, "{condition: service_started}") for name in upstreams()), quote=False),
        "# the provincial aggregator (profile province): the services it runs, their own users and",
        "# the province broker's users' passwords",
        "x-province-services: &province-services",
        f"  command: {json_list(['serve', *province])}",
        f"  ports: {json_list([f'{port(name)}:{port(name)}' for name in province])}",
        "x-province-credentials: &province-credentials",
        f"  HUB_SERVICES: {','.join(province)}",
        *mapping(pair for name in province for pair in province_credentials(name)),
        "x-province-broker-passwords: &province-broker-passwords",
        *mapping(((env_name("HUB_AMQP_PASSWORD", role),
                   f"${{{env_name('PROVINCE_AMQP_PASSWORD', role)}:-}}")
                  for role in province_roles()), quote=False),
    ]


def json_list(items):
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


def healthcheck(name):
    path = "/health/ready" if manifest(name).database else "/health/live"
    url = f"http://127.0.0.1:{port(name)}{path}"
    check = f"import urllib.request; urllib.request.urlopen('{url}', timeout=3)"
    return ["  healthcheck:",
            f'    test: ["CMD", "python", "-c", "{check}"]',
            "    interval: 10s", "    timeout: 5s", "    retries: 6",
            *(["    start_period: 20s"] if manifest(name).database else [])]


def service(name):
    """One hub service's compose service: the image's `hub serve NAME`, after the set-up job."""
    if name == GATEWAY:
        environment = ["  environment:", "    <<: [*hub-env, *upstreams]",
                       "  depends_on:", "    <<: *upstreams-started",
                       "    setup: {condition: service_completed_successfully}"]
    else:
        environment = ["  environment:", "    <<: *hub-env",
                       *("  " + line for line in mapping(credentials(name)))]
    return [f"# {name}: {manifest(name).description}", f"{name}:", "  <<: *hub",
            f'  command: ["serve", "{name}"]', *environment, *healthcheck(name), ""]


def sections():
    """Hand-written files: relative path -> the bodies of their generated sections."""
    services = [line for name in every_service() for line in service(name)][:-1]
    return {COMPOSE: [anchors(), services]}

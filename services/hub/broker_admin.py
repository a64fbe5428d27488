"""The broker's administration through RabbitMQ's management HTTP API: users, permissions,
queues and bindings, runtime parameters (shovels), definitions, connections. The hub administers
its brokers this one way.

Used by `hub setup` (a least-privilege user per service), `hub subscriber …` (read-only users
with their own queues), `hub backup` (definitions) and `hub province …` (the counties' shovels;
their states need the `rabbitmq_shovel_management` plugin). The API's address comes from
HUB_AMQP_ADMIN_URL, or else the broker's host on port 15672; the credentials are those of
HUB_AMQP_ADMIN_URI (default: HUB_AMQP_URI). The plugin is `rabbitmq_management`
(scripts/ensure-services.sh enables it on a local broker).
"""
from urllib.parse import quote, unquote, urlsplit

import requests


class BrokerAdminError(RuntimeError):
    pass


class BrokerAdmin:
    def __init__(self, base_url, user, password, vhost="/", timeout=10, verify=True):
        self.base_url = base_url.rstrip("/")
        self.vhost = vhost
        self.session = requests.Session()
        self.session.auth = (user, password)
        self.session.verify = verify        # https: True (system CAs) or a CA file
        self.timeout = timeout

    @classmethod
    def from_amqp_uri(cls, amqp_uri, api_url=None, verify=True):
        """An admin for the vhost of `amqp_uri`, with its credentials."""
        parts = urlsplit(amqp_uri)
        vhost = unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
        scheme = "https" if parts.scheme == "amqps" else "http"
        url = api_url or f"{scheme}://{parts.hostname or '127.0.0.1'}:15672"
        return cls(url, unquote(parts.username or "guest"), unquote(parts.password or "guest"), vhost,
                   verify=verify)

    @classmethod
    def for_settings(cls, settings):
        """The hub's admin: HUB_AMQP_ADMIN_URI's credentials (default HUB_AMQP_URI's), at
        HUB_AMQP_ADMIN_URL; https (checked against HUB_AMQP_CA_FILE) when HUB_AMQP_SSL=1."""
        return cls.from_amqp_uri(settings.amqp_admin_uri or settings.amqp_uri,
                                 settings.amqp_admin_url or None,
                                 verify=settings.amqp_ca_file or True)

    def _url(self, *segments):
        return self.base_url + "/api/" + "/".join(quote(s, safe="") for s in segments)

    def _call(self, method, *segments, json=None, ok_missing=False):
        try:
            response = self.session.request(method, self._url(*segments), json=json,
                                            timeout=self.timeout)
        except requests.RequestException as exc:
            raise BrokerAdminError(
                f"RabbitMQ's management API at {self.base_url} does not answer ({exc}); "
                "enable the rabbitmq_management plugin or set HUB_AMQP_ADMIN_URL") from None
        if response.status_code == 404 and ok_missing:
            return None
        if response.status_code >= 400:
            raise BrokerAdminError(f"{method} {'/'.join(segments)}: {response.status_code} "
                                   f"{response.text[:300]}")
        return response.json() if response.content else None

    # users and permissions -------------------------------------------------------------------
    def ensure_user(self, name, password, tags=""):
        self._call("PUT", "users", name, json={"password": password, "tags": tags})

    def delete_user(self, name):
        self._call("DELETE", "users", name, ok_missing=True)

    def user_exists(self, name):
        return self._call("GET", "users", name, ok_missing=True) is not None

    def users(self):
        """Every user of the broker (name, tags …)."""
        return self._call("GET", "users") or []

    def set_permissions(self, user, configure="^$", write="^$", read="^$"):
        self._call("PUT", "permissions", self.vhost, user,
                   json={"configure": configure, "write": write, "read": read})

    def permissions(self, user):
        return self._call("GET", "permissions", self.vhost, user, ok_missing=True)

    # the vhost itself (a machine running several hubs on one broker: `make province`) ----------
    def ensure_vhost(self):
        """Create this admin's vhost, and give its own user every right in it (an existing
        vhost is kept as it is, its rights made sure of)."""
        self._call("PUT", "vhosts", self.vhost)
        self.set_permissions(self.session.auth[0], ".*", ".*", ".*")

    def delete_vhost(self):
        self._call("DELETE", "vhosts", self.vhost, ok_missing=True)

    # exchanges, queues and bindings ----------------------------------------------------------
    def exchange(self, name):
        return self._call("GET", "exchanges", self.vhost, name, ok_missing=True)

    def declare_queue(self, name, arguments=None):
        self._call("PUT", "queues", self.vhost, name,
                   json={"durable": True, "auto_delete": False, "arguments": arguments or {}})

    def delete_queue(self, name):
        self._call("DELETE", "queues", self.vhost, name, ok_missing=True)

    def queue(self, name):
        return self._call("GET", "queues", self.vhost, name, ok_missing=True)

    def bind(self, exchange, queue, routing_key):
        self._call("POST", "bindings", self.vhost, "e", exchange, "q", queue,
                   json={"routing_key": routing_key})

    def bindings(self, queue):
        return [b for b in self._call("GET", "queues", self.vhost, queue, "bindings") or []
                if b.get("source")]

    def unbind(self, exchange, queue, properties_key):
        self._call("DELETE", "bindings", self.vhost, "e", exchange, "q", queue, properties_key,
                   ok_missing=True)

    # runtime parameters: dynamic shovels ----------------------------------------------------
    def set_parameter(self, component, name, value):
        self._call("PUT", "parameters", component, self.vhost, name,
                   json={"component": component, "vhost": self.vhost, "name": name,
                         "value": value})

    def clear_parameter(self, component, name):
        self._call("DELETE", "parameters", component, self.vhost, name, ok_missing=True)

    def parameters(self, component):
        """[{name, value, …}] of the vhost's runtime parameters of `component` (e.g. "shovel")."""
        return self._call("GET", "parameters", component, self.vhost, ok_missing=True) or []

    def shovels(self):
        """[{name, vhost, state, …}] of the vhost's running dynamic shovels."""
        found = self._call("GET", "shovels", self.vhost, ok_missing=True)
        if found is None:
            raise BrokerAdminError("the management API has no shovel states: enable the "
                                   "rabbitmq_shovel_management plugin")
        return found

    # definitions -----------------------------------------------------------------------------
    def definitions(self):
        """The vhost's definitions (exchanges, queues, bindings, …), as `hub backup` keeps them."""
        return self._call("GET", "definitions", self.vhost) or {}

    def load_definitions(self, definitions):
        self._call("POST", "definitions", self.vhost, json=definitions)

    def overview(self):
        return self._call("GET", "overview") or {}

    # connections -----------------------------------------------------------------------------
    def connections(self):
        """Open client connections of this vhost (user, client properties …)."""
        return [c for c in self._call("GET", "connections") or []
                if c.get("vhost") == self.vhost]

    def close_connection(self, name, reason="closed by the hub's administration"):
        """Close a client connection (by its name in `connections()`)."""
        response = self.session.delete(self._url("connections", name), timeout=self.timeout,
                                       headers={"X-Reason": reason})
        if response.status_code >= 400 and response.status_code != 404:
            raise BrokerAdminError(f"DELETE connections/{name}: {response.status_code} "
                                   f"{response.text[:300]}")

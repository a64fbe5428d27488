"""OpenAPI 3 documents generated from the routes and marshmallow schemas the services declare."""
import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from hub.http import HubHttpEntrypoint

ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "object", "properties": {
        "code": {"type": "string"}, "message": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": True}}}},
}


def schema_name(schema):
    """Component names carry their service ("VisitsNeed", "ResourcesNeed"): no clashes."""
    cls = schema if isinstance(schema, type) else type(schema)
    service = cls.__module__.split(".")[0]
    base = cls.__name__[:-len("Schema")] if cls.__name__.endswith("Schema") else cls.__name__
    from hub.runner import SERVICES
    return service.title() + base if service in SERVICES else base


def build_spec(service_classes, title="Shegong Hub API", version="1"):
    spec = APISpec(title=title, version=version, openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin(schema_name_resolver=schema_name)],
                   info={"description": "The HTTP API of a Shegong Hub county hub. Every call needs "
                                        "`Authorization: Bearer <token>` unless marked public."})
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                               "bearerFormat": "JWT"})
    spec.components.schema("Error", ERROR_SCHEMA)
    paths = {}
    for cls in service_classes:
        for attr in sorted(dir(cls)):
            fn = getattr(cls, attr)
            for ep in getattr(fn, "nameko_entrypoints", ()):
                if not isinstance(ep, HubHttpEntrypoint):
                    continue
                method, url = ep.method, ep.url
                if not url.startswith("/api/"):
                    continue
                path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", url)
                op = {"operationId": attr, "summary": (fn.__doc__ or attr).strip().splitlines()[0],
                      "tags": [cls.name],
                      "responses": {str(ep.status): {"description": "OK"},
                                    "4XX": {"description": "Error", "content": {
                                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}}
                if ep.responds:
                    op["responses"][str(ep.status)]["content"] = {
                        "application/json": {"schema": ep.responds}}
                if not ep.public:
                    op["security"] = [{"bearer": []}]
                    op["x-roles"] = list(ep.access.roles)
                    op["description"] = ep.access.describe()
                params = [{"in": "path", "name": n, "required": True, "schema": {"type": "string"}}
                          for n in re.findall(r"{(\w+)}", path)]
                if ep.query_schema:
                    params.append({"in": "query", "schema": ep.query_schema})
                if method in ("POST", "PATCH", "PUT"):
                    params.append({"in": "header", "name": "Idempotency-Key", "required": False,
                                   "schema": {"type": "string"},
                                   "description": "Retry safely: the same key returns the first answer."})
                if params:
                    op["parameters"] = params
                if ep.body_schema:
                    op["requestBody"] = {"required": True, "content": {
                        "application/json": {"schema": ep.body_schema}}}
                paths.setdefault(path, {})[method.lower()] = op
    for path, operations in sorted(paths.items()):
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def service_spec(service_cls):
    return build_spec([service_cls], title=f"Shegong Hub {service_cls.name} API")

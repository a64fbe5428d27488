"""OpenAPI 3 documents generated from the routes and marshmallow schemas the services declare.

Every rule a schema's validators state is in the document (patterns, enums, bounds, the keys a
dict may have), so that a client, or a fuzzer, knows what a request must look like. A path
parameter `…_id` is a UUID. Each 201 answer links to the operations on the record it made
(`POST /clients` → `GET /clients/{client_id}`, …), as OpenAPI `links`.
"""
import decimal
import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields, validate

from hub.http import HubHttpEntrypoint, IdempotencyHeader
from hub.manifest import manifests

ERROR_SCHEMA = {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message", "fields"],
                             "properties": {
                                 "code": {"type": "string"}, "message": {"type": "string"},
                                 "fields": {"type": "object", "additionalProperties": True}}}},
}


ERROR_RESPONSE = {"description": "Error", "content": {
    "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
UNAVAILABLE_RESPONSE = {**ERROR_RESPONSE, "description": "A service or its database is unavailable "
                        "for a moment: send the request again (with the same Idempotency-Key)"}


def hub_rules(self, field, ret, **kwargs):
    """What apispec leaves out or gets wrong, for every field (an apispec attribute function):
    Decimal bounds as numbers, exclusive bounds, a nullable nested schema that admits only null
    besides it, and the keys a Dict may have."""
    for bound in ("minimum", "maximum"):
        if isinstance(ret.get(bound), decimal.Decimal):
            value = ret[bound]
            ret[bound] = int(value) if value == value.to_integral_value() else float(value)
    for v in field.validators:
        if isinstance(v, validate.Range):
            if v.min is not None and not v.min_inclusive:
                ret["exclusiveMinimum"] = True
            if v.max is not None and not v.max_inclusive:
                ret["exclusiveMaximum"] = True
    for branch in ret.get("anyOf", ()):
        if branch.get("nullable") and "$ref" not in branch:
            branch["enum"] = [None]
    keys = getattr(field, "key_field", None)
    choices = [v.choices for v in getattr(keys, "validators", ()) if isinstance(v, validate.OneOf)]
    if choices:
        ret["properties"] = {k: ret.get("additionalProperties", {}) for k in choices[0]}
        ret["additionalProperties"] = False
    return {}


def path_parameters(names):
    """The path parameters, as a marshmallow schema: `…_id` a UUID, anything else a string."""
    return Schema.from_dict({n: fields.UUID(required=True) if n.endswith("_id")
                             else fields.String(required=True) for n in names},
                            name="PathParameters")


def add_links(paths, created):
    """Link each 201 answer of `created` (path -> its POST operation) to the operations of the
    paths under its own, with the new record's id as their first path parameter."""
    for path, post in created.items():
        links = {}
        for other, operations in paths.items():
            below = re.match(re.escape(path) + r"/{(\w+)}", other)
            for op in operations.values() if below else ():
                links[op["operationId"]] = {"operationId": op["operationId"],
                                            "parameters": {below.group(1): "$response.body#/id"}}
        if links:
            post["responses"]["201"]["links"] = links


def schema_name(schema):
    """Component names carry their service ("VisitsNeed", "ResourcesNeed"): no clashes."""
    cls = schema if isinstance(schema, type) else type(schema)
    service = cls.__module__.split(".")[0]
    base = cls.__name__[:-len("Schema")] if cls.__name__.endswith("Schema") else cls.__name__
    return service.title() + base if service in manifests() else base


def build_spec(service_classes, title="Shegong Hub API", version="1"):
    marshmallow = MarshmallowPlugin(schema_name_resolver=schema_name)
    spec = APISpec(title=title, version=version, openapi_version="3.0.3", plugins=[marshmallow],
                   info={"description": "The HTTP API of a Shegong Hub county hub. Every call needs "
                                        "`Authorization: Bearer <token>` unless marked public."})
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                               "bearerFormat": "JWT"})
    marshmallow.converter.add_attribute_function(hub_rules)
    spec.components.schema("Error", ERROR_SCHEMA)
    paths, created = {}, {}
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
                op = {"operationId": f"{cls.name}_{attr}",
                      "summary": (fn.__doc__ or attr).strip().splitlines()[0],
                      "tags": [cls.name],
                      "responses": {str(ep.status): {"description": "OK"}, "4XX": ERROR_RESPONSE,
                                    "503": UNAVAILABLE_RESPONSE}}
                if ep.responds:
                    op["responses"][str(ep.status)]["content"] = {
                        "application/json": {"schema": ep.responds}}
                    responds = ep.responds if isinstance(ep.responds, type) else type(ep.responds)
                    if method == "POST" and ep.status == 201 and "id" in responds._declared_fields:
                        created[path] = op
                if not ep.public:
                    op["security"] = [{"bearer": []}]
                    op["x-roles"] = list(ep.access.roles)
                    op["description"] = ep.access.describe()
                names = re.findall(r"{(\w+)}", path)
                params = [{"in": "path", "schema": path_parameters(names)}] if names else []
                if ep.query_schema:
                    params.append({"in": "query", "schema": ep.query_schema})
                if ep.idempotent:
                    params.append({"in": "header", "schema": IdempotencyHeader})
                if params:
                    op["parameters"] = params
                if ep.body_schema:
                    op["requestBody"] = {"required": True, "content": {
                        "application/json": {"schema": ep.body_schema}}}
                paths.setdefault(path, {})[method.lower()] = op
    add_links(paths, created)
    for path, operations in sorted(paths.items()):
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def service_spec(service_cls):
    return build_spec([service_cls], title=f"Shegong Hub {service_cls.name} API")

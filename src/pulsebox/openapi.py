"""The OpenAPI 3.1 document of every route, built from the route table (``app.ROUTES``: paths,
methods, ``public``) and the per-route metadata in ``openapi_routes``; served at ``/openapi.json``.
``/docs`` is the API reference page: Swagger UI from the ``swagger-ui-py`` package's static files
(served from here, no CDN)."""

from __future__ import annotations

import importlib.util
import re
from importlib import metadata
from pathlib import Path

import orjson
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

from pulsebox import openapi_routes as meta
from pulsebox.api import endpoint, error_response
from pulsebox.errors import NOT_FOUND, ApiError

_CONVERTOR = re.compile(r"\{([^}:]+):[^}]+\}")
_FORMS = ("application/json", "application/x-www-form-urlencoded", "multipart/form-data")

DESCRIPTION = """\
Pulsebox answers [SendPulse](https://sendpulse.com)'s REST API (email service: mailing lists, contacts,
senders, templates, balance, and the SMTP service) with SendPulse's field names and answer shapes.

**Authorization**: `POST /oauth/access_token` with `grant_type=client_credentials`, your `client_id` and
`client_secret` answers a bearer token; send it as `Authorization: Bearer <token>`.

**Requests** may be JSON, form-encoded or multipart (structured fields also as PHP `serialize()` text), as
SendPulse's clients send them.
**Errors** are `{"is_error": true, "message": ..., "error_code": N}` with a 4xx status.

Operations and fields marked *Pulsebox extension* are ours, not SendPulse's."""


def _version() -> str:
    try:
        return metadata.version("pulsebox")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0"


def _entry(key: str) -> dict:
    entry = meta.ROUTES[key]
    while isinstance(entry, str):  # an alias: "PUT ..." documented as its "POST ..." twin
        entry = meta.ROUTES[entry]
    return entry


def _path_param(name: str, path: str) -> dict:
    for pname, prefix, schema, description in meta.PATH_PARAMS:
        if pname == name and path.startswith(prefix):
            return {"name": name, "in": "path", "required": True, "schema": schema, "description": description}
    raise KeyError(f"openapi_routes.PATH_PARAMS has no entry for {{{name}}} in {path}")


def _operation(method: str, path: str, route: Route, entry: dict) -> dict:
    public = not isinstance(route.endpoint, endpoint) or route.endpoint.public
    description = entry.get("description", "")
    if entry.get("ours"):
        description = meta.OURS + description
    op: dict = {"tags": [entry["tag"]], "summary": entry["summary"],
                "operationId": re.sub(r"[^A-Za-z0-9]+", "_", f"{method.lower()} {path}").strip("_")}
    if description:
        op["description"] = description
    params = [_path_param(name, path) for name in route.param_convertors]
    params += entry.get("query", [])
    if params:
        op["parameters"] = params
    if "body" in entry:
        op["requestBody"] = {"required": bool(entry["body"].get("required")),
                             "content": {kind: {"schema": entry["body"]} for kind in _FORMS}}
    if "form" in entry:
        op["requestBody"] = {"required": False,
                             "content": {"application/x-www-form-urlencoded": {"schema": entry["form"]}}}
    if public:
        op["security"] = []
    status = entry.get("status", "200")
    if "ok" in entry:
        ok = {"description": "success", "content": {"application/json": {"schema": entry["ok"]}}}
    elif status == "302":
        ok = {"description": "redirect to the link's target",
              "headers": {"Location": {"schema": {"type": "string"}}}}
    elif status == "204":
        ok = {"description": "done: no content"}
    elif status == "303":
        ok = {"description": "see the page it leads to", "headers": {"Location": {"schema": {"type": "string"}}}}
    else:
        ok = {"description": "success", "content": entry["content"]}
    op["responses"] = {status: ok}
    if not entry.get("plain"):
        op["responses"]["4XX"] = {"$ref": "#/components/responses/Error"}
    return op


def build(routes: list) -> dict:
    """The document of every ``Route`` in ``routes`` (HEAD is implied by GET and not listed)."""
    paths: dict[str, dict] = {}
    for route in routes:
        if not isinstance(route, Route):
            continue
        path = _CONVERTOR.sub(r"{\1}", route.path)
        for method in sorted(route.methods - {"HEAD"}):
            paths.setdefault(path, {})[method.lower()] = _operation(method, path, route,
                                                                    _entry(f"{method} {path}"))
    return {
        "openapi": "3.1.0",
        "info": {"title": "Pulsebox (SendPulse-compatible REST API)", "version": _version(),
                 "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"client_credentials": []}],  # either: a token you have, or one fetched
        "tags": [{"name": t} for t in sorted(dict.fromkeys(e["tag"] for e in meta.ROUTES.values() if isinstance(e, dict)),
                                              key=lambda t: t in ("Public links", "Pulsebox"))],  # ours last
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {
                "type": "http", "scheme": "bearer",
                "description": "A token from `POST /oauth/access_token` (client_credentials), valid an hour"},
                "client_credentials": {
                    "type": "oauth2", "description": "The same token, fetched with your client_id and client_secret "
                    "(send them in the request body: the endpoint does not read HTTP Basic credentials)",
                    "flows": {"clientCredentials": {"tokenUrl": "/oauth/access_token", "scopes": {}}}}},
            "schemas": meta.SCHEMAS,
            "responses": {"Error": {"description": "SendPulse's error object",
                                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
        },
    }


# ---------------------------------------------------------------- HTTP

async def document(request: Request) -> Response:
    body = getattr(request.app.state, "openapi", None)
    if body is None:
        body = request.app.state.openapi = orjson.dumps(build(request.app.routes))
    return Response(body, media_type="application/json")


def _static_dir() -> Path:
    spec = importlib.util.find_spec("swagger_ui")  # the swagger-ui-py package (Swagger UI 5.x files)
    assert spec is not None and spec.submodule_search_locations, "swagger-ui-py is not installed"
    return Path(list(spec.submodule_search_locations)[0]) / "static"


ASSETS = {"swagger-ui.css": "text/css", "swagger-ui-bundle.js": "application/javascript",
          "favicon-32x32.png": "image/png", "favicon-16x16.png": "image/png"}

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Pulsebox API reference</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png" sizes="32x32">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
                             persistAuthorization: true});
</script>
</body>
</html>
"""


async def docs_page(request: Request) -> Response:
    return HTMLResponse(PAGE)


async def docs_asset(request: Request) -> Response:
    name = request.path_params["asset"]
    if name not in ASSETS:
        return error_response(ApiError(NOT_FOUND, "No such file"))
    return FileResponse(_static_dir() / name, media_type=ASSETS[name],
                        headers={"Cache-Control": "public, max-age=86400"})

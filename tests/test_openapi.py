"""/openapi.json documents every route of the table and nothing else, is a valid OpenAPI 3.1
document, and says what the API really answers; /docs (Swagger UI, from the swagger-ui-py
package) is served with its static files."""

from __future__ import annotations

import base64
import dataclasses
import re
import secrets

import pytest
from conftest import Api, make_account
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from starlette.routing import Route
from starlette.testclient import TestClient

from pulsebox import openapi_routes
from pulsebox.api import endpoint
from pulsebox.app import ROUTES, build
from pulsebox.context import Context
from pulsebox.delivery.transports import from_url
from pulsebox.openapi import build as build_document
from pulsebox.worker.runner import Worker

DOC = build_document(ROUTES)


def table() -> dict[tuple[str, str], Route]:
    out = {}
    for r in ROUTES:
        if isinstance(r, Route):
            for method in r.methods - {"HEAD"}:
                out[(method, re.sub(r"\{([^}:]+):[^}]+\}", r"{\1}", r.path))] = r
    return out


# ---------------------------------------------------------------- (a) the route table, exactly

def test_every_route_is_documented_and_nothing_else():
    documented = {(m.upper(), p) for p, ops in DOC["paths"].items() for m in ops}
    assert documented == set(table())
    assert {"GET /openapi.json", "GET /docs"} <= {f"{m} {p}" for m, p in documented}


def test_no_metadata_for_routes_that_are_gone():
    assert {tuple(key.split(" ", 1)) for key in openapi_routes.ROUTES} == set(table())


def test_public_routes_need_no_token_and_the_others_do():
    assert DOC["security"] == [{"bearer": []}, {"client_credentials": []}]
    flow = DOC["components"]["securitySchemes"]["client_credentials"]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "/oauth/access_token"
    for (method, path), route in table().items():
        op = DOC["paths"][path][method.lower()]
        public = not isinstance(route.endpoint, endpoint) or route.endpoint.public
        assert (op.get("security") == []) == public, (method, path)
        if isinstance(route.endpoint, endpoint):  # every API route answers SendPulse's error object
            assert op["responses"]["4XX"] == {"$ref": "#/components/responses/Error"}, (method, path)
    assert DOC["paths"]["/oauth/access_token"]["post"]["security"] == []
    assert DOC["paths"]["/addressbooks"]["get"].get("security") is None


def test_our_extensions_say_so():
    ours = "Pulsebox extension"
    for path in ("/capture/messages", "/t/o/{token}", "/openapi.json"):
        for op in DOC["paths"][path].values():
            assert ours in op["description"], path
    email = DOC["paths"]["/smtp/emails"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    for field in ("track_opens", "track_clicks", "variables"):
        assert ours in email["properties"]["email"]["properties"][field]["description"]


# ---------------------------------------------------------------- (b) a valid OpenAPI 3.1 document

def test_the_document_is_valid_openapi_3_1(client):
    validate(DOC, cls=OpenAPIV31SpecValidator)
    answer = client.get("/openapi.json")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    assert answer.json() == DOC
    assert client.get("/openapi.json/").json() == DOC  # trailing slash ignored, as everywhere
    ids = [op["operationId"] for ops in DOC["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))


# ---------------------------------------------------------------- (c) answers match their schemas

def response_schema(method: str, path: str, status: int) -> dict:
    responses = DOC["paths"][path][method.lower()]["responses"]
    response = responses.get(str(status)) or responses[f"{str(status)[0]}XX"]
    if "$ref" in response:
        response = DOC["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    # the document's components ride along, so "#/components/schemas/..." resolves against it
    return {**response["content"]["application/json"]["schema"], "components": DOC["components"]}


class Checked:
    """An ``Api`` whose every JSON answer is validated against the documented schema of its route."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.seen: set[tuple[str, str, str]] = set()

    def __call__(self, method: str, route: str, path: str | None = None, **kwargs) -> object:  # noqa: ANN003
        answer = self.api.call(method, path or route, **kwargs)
        schema = response_schema(method, route, answer.status)
        errors = sorted(Draft202012Validator(schema).iter_errors(answer.json), key=str)
        assert not errors, f"{method} {route} -> {answer.status} {answer.json!r}: {errors[0].message}"
        self.seen.add((method, route, "ok" if answer.status == 200 else "error"))
        return answer


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def capture_api(ctx, tmp_path):
    settings = dataclasses.replace(ctx.settings, mail_url=f"capture://{tmp_path / 'mail'}")
    capture_ctx = Context(settings=settings, db=ctx.db, limiter=ctx.limiter)
    with TestClient(build(capture_ctx), raise_server_exceptions=False) as client:
        yield capture_ctx, Api(client, make_account(ctx))


def test_answers_match_the_documented_shapes(api, client):
    check = Checked(api)
    ann, bob = f"ann-{secrets.token_hex(3)}@example.com", f"bob-{secrets.token_hex(3)}@example.com"

    # oauth (public), form-encoded as the reference page's client-credentials flow sends it
    token = client.post("/oauth/access_token", data={"grant_type": "client_credentials", "client_id": api.account[
        "client_id"], "client_secret": api.account["client_secret"]})
    for answer, status in ((token, 200), (client.post("/oauth/access_token", json={
            "grant_type": "client_credentials", "client_id": api.account["client_id"], "client_secret": "wrong"}), 401)):
        assert answer.status_code == status
        assert not list(Draft202012Validator(response_schema("POST", "/oauth/access_token", status))
                        .iter_errors(answer.json()))

    # mailing lists and contacts
    book = check("POST", "/addressbooks", json={"bookName": f"list-{secrets.token_hex(3)}"}).json["id"]
    assert check("POST", "/addressbooks/{id}/emails", f"/addressbooks/{book}/emails", json={"emails": [
        {"email": ann, "variables": {"name": "Ann", "age": 30, "Phone": "+15551234567"}}, bob]}).status == 200
    check("GET", "/addressbooks")
    check("GET", "/addressbooks/{id}", f"/addressbooks/{book}")
    check("GET", "/addressbooks/{id}/variables", f"/addressbooks/{book}/variables")
    assert check("GET", "/addressbooks/{id}/variables/{name}/{value}",
                 f"/addressbooks/{book}/variables/name/Ann").json[0]["email"] == ann
    assert len(check("GET", "/addressbooks/{id}/emails", f"/addressbooks/{book}/emails").json) == 2
    check("GET", "/addressbooks/{id}/emails/total", f"/addressbooks/{book}/emails/total")
    check("GET", "/addressbooks/{id}/emails/{email}", f"/addressbooks/{book}/emails/{ann}")
    check("GET", "/addressbooks/{id}/cost", f"/addressbooks/{book}/cost")
    check("GET", "/addressbooks/{id}/campaigns", f"/addressbooks/{book}/campaigns")
    check("PUT", "/addressbooks/{id}", f"/addressbooks/{book}", json={"name": f"renamed-{secrets.token_hex(3)}"})
    assert check("GET", "/addressbooks/{id}", "/addressbooks/999999999").status == 404
    assert check("POST", "/addressbooks", json={}).status == 400
    assert check("GET", "/addressbooks/{id}/variables/{name}", f"/addressbooks/{book}/variables/name").status == 400

    # one address across every list
    check("GET", "/emails/{email}", f"/emails/{ann}")
    check("GET", "/emails/{email}/details", f"/emails/{ann}/details")
    check("GET", "/emails/{email}/campaigns", f"/emails/{ann}/campaigns")
    check("POST", "/emails", json={"emails": [ann, bob]})
    check("POST", "/emails/campaigns", json={"emails": [ann]})
    assert check("GET", "/emails/{email}", "/emails/nobody@example.com").status == 404

    # blacklist
    check("POST", "/blacklist", json={"emails": [bob], "comment": "asked"})
    assert check("GET", "/blacklist").json == [bob]
    assert check("POST", "/blacklist", json={}).status == 400

    # senders
    sender = f"shop-{secrets.token_hex(3)}@example.com"
    check("POST", "/senders", json={"email": sender, "name": "Shop"})
    check("GET", "/senders")
    check("GET", "/senders/{email}/code", f"/senders/{sender}/code")
    assert check("POST", "/senders/{email}/code", f"/senders/{sender}/code", json={"code": "nope"}).status == 400

    # templates
    real_id = check("POST", "/template", json={"name": "Welcome", "body": b64("<p>Hi</p>"), "lang": "en"}).json[
        "real_id"]
    template = check("GET", "/template/{id}", f"/template/{real_id}").json
    check("GET", "/template/slug/{slug}", f"/template/slug/{template['name_slug']}")
    check("GET", "/templates", params={"owner": "sendpulse"})
    check("GET", "/templates/{lang}", "/templates/en")
    check("POST", "/template/edit/{id}", f"/template/edit/{real_id}", json={"body": b64("<p>Hello</p>")})
    assert check("GET", "/template/{id}", "/template/999999999").status == 404

    # balance
    check("GET", "/balance")
    check("GET", "/user/balance/detail")
    assert check("GET", "/balance/{currency}", "/balance/XYZ").status == 400

    # SMTP
    sent = check("POST", "/smtp/emails", json={"email": {
        "subject": "Hello", "html": b64("<p>Hi <a href='https://example.com'>there</a></p>"),
        "from": {"name": "Shop", "email": "shop@example.com"},
        "to": [{"email": ann}, {"email": f"carol-{secrets.token_hex(3)}@example.com"}]}}).json["id"]
    assert len(check("GET", "/smtp/emails/{id}", f"/smtp/emails/{sent}").json["recipients"]) == 2
    check("GET", "/smtp/emails")
    check("POST", "/smtp/unsubscribe", json={"emails": [{"email": bob, "comment": "no"}]})
    check("GET", "/smtp/unsubscribe")
    check("GET", "/smtp/ips")
    check("GET", "/smtp/domains")
    check("GET", "/smtp/bounces/day")
    assert check("GET", "/smtp/emails/{id}", "/smtp/emails/" + "0" * 32).status == 404
    assert check("POST", "/smtp/emails", json={"email": {"subject": "x"}}).status == 400

    # protocol-level errors answer the same error object
    bare = client.get("/addressbooks", headers={"Authorization": "Bearer nope"})
    assert bare.status_code == 401
    assert not list(Draft202012Validator(response_schema("GET", "/addressbooks", 401)).iter_errors(bare.json()))

    for kind in ("ok", "error"):  # each area: at least one success and one error checked
        areas = {route.split("/")[1] for _, route, seen in check.seen if seen == kind}
        assert {"addressbooks", "emails", "blacklist", "senders", "template", "balance", "smtp"} <= areas, kind


def test_captured_mail_answers_match_the_documented_shapes(ctx, capture_api):
    capture_ctx, api = capture_api
    check = Checked(api)
    to = f"ann-{secrets.token_hex(3)}@example.com"
    check("POST", "/smtp/emails", json={"email": {
        "subject": "Receipt", "html": b64("<p>Thanks</p>"), "from": {"name": "Shop", "email": "shop@example.com"},
        "to": [{"email": to}], "attachments": {"receipt.txt": "1 x tea"}}})
    worker = Worker(capture_ctx, from_url(capture_ctx.settings.mail_url, capture_ctx.settings.data_dir))
    while worker.run_once():
        pass
    worker.pool.shutdown()
    listed = check("GET", "/capture/messages", params={"recipient": to}).json
    assert len(listed) == 1
    message = check("GET", "/capture/messages/{id}", f"/capture/messages/{listed[0]['id']}").json
    assert message["attachments"] and message["headers"]
    assert check("GET", "/capture/messages/{id}", "/capture/messages/999999999").status == 404
    assert check("GET", "/capture/messages", params={"limit": -1}).status == 400
    check("DELETE", "/capture/messages")
    assert {(method, route, kind) for method, route, kind in check.seen if route.startswith("/capture")} >= {
        ("GET", "/capture/messages/{id}", "ok"), ("GET", "/capture/messages/{id}", "error")}


# ---------------------------------------------------------------- (d) the reference page

def test_the_reference_page_and_its_assets_are_served(client):
    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assets = re.findall(r'(?:src|href)="(/docs/[^"]+)"', page.text)
    assert '"/openapi.json"' in page.text and "swagger-ui-bundle.js" in page.text
    assert "//" not in "".join(re.findall(r'(?:src|href)="([^"]+)"', page.text))  # nothing from elsewhere
    kinds = {"js": "application/javascript", "css": "text/css", "png": "image/png"}
    assert {a.rsplit(".", 1)[1] for a in assets} == set(kinds)
    for asset in assets:
        answer = client.get(asset)
        assert answer.status_code == 200, asset
        assert answer.headers["content-type"].startswith(kinds[asset.rsplit(".", 1)[1]]), asset
        assert len(answer.content) > 100, asset
    assert b"SwaggerUIBundle" in client.get("/docs/swagger-ui-bundle.js").content
    for missing in ("/docs/nothing.js", "/docs/..%2Fcore.py", "/docs/index.html"):
        answer = client.get(missing)
        assert answer.status_code == 404 and answer.json()["error_code"] == 404, missing

"""What the OpenAPI document says about each route: summary, inputs and answer shape, keyed by
``"METHOD path"`` exactly as the route table (``app.ROUTES``) writes it. ``openapi.build`` walks the
route table and looks each route up here, so a route added without an entry fails the build (and
tests/test_openapi.py). Field names and shapes are SendPulse's (document 004; 002 for SMTP);
``ours`` marks Pulsebox's own routes and fields. Schemas are JSON Schema 2020-12 (OpenAPI 3.1).
"""

from __future__ import annotations

OURS = "**Pulsebox extension** (not in SendPulse's API). "

# ---------------------------------------------------------------- schema helpers

S = {"type": "string"}
I = {"type": "integer"}  # noqa: E741
N = {"type": "number"}
B = {"type": "boolean"}
EMAIL = {"type": "string", "format": "email"}
STAMP = {"type": "string", "description": "YYYY-MM-DD hh:mm:ss (UTC)", "examples": ["2026-01-31 12:00:00"]}


def obj(props: dict, required: tuple | list = (), **extra) -> dict:  # noqa: ANN003
    out = {"type": "object", "properties": props, **extra}
    if required:
        out["required"] = list(required)
    return out


def arr(items: dict, **extra) -> dict:  # noqa: ANN003
    return {"type": "array", "items": items, **extra}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def q(name: str, schema: dict, description: str = "", required: bool = False) -> dict:
    out = {"name": name, "in": "query", "schema": schema, "required": required}
    if description:
        out["description"] = description
    return out


PAGING = [q("limit", I, "how many items to answer"), q("offset", I, "how many items to skip")]
DAY = [q("date", S, "only this day, YYYY-MM-DD (default: every day)"), q("day", S, "the same as `date`")]

# ---------------------------------------------------------------- shared components

SCHEMAS = {
    "Error": obj({"is_error": {"const": True}, "message": S,
                  "error_code": {"type": "integer", "description": "SendPulse's error code; the HTTP status "
                                 "for failures its catalogue has no code for (401, 404, 405, 413, 429)"}},
                 ["is_error", "message", "error_code"],
                 description="SendPulse's error object: every error answer of the API (4xx status)"),
    "Result": obj({"result": {"const": True}}, ["result"]),
    "PushTask": obj({"id": I, "title": S, "body": S, "website_id": I, "send_date": STAMP, "from": STAMP,
                     "to": {"type": ["string", "null"]}, "status": I}, ["id", "title", "body", "website_id", "status"]),
    "Webhook": obj({"id": I, "user_id": I, "url": S, "action": S,
                    "service": {"enum": ["email", "smtp"], "description": OURS},
                    "secret": {"type": "string", "description": OURS + "Standard Webhooks signing secret (whsec_...)"},
                    "failing": {"type": "boolean", "description": OURS + "its last posts failed"}},
                   ["id", "user_id", "url", "action"]),
    "Filter": obj({"variable_name": S, "operator": {"enum": ["and", "or"]},
                   "conditions": arr(obj({"condition": {"enum": ["equal", "notequal", "greaterthan", "lessthan",
                                                                 "startwith", "endwith", "likewith", "notlikewith"]},
                                          "value": {"type": ["string", "number"]}}, ["condition"]))},
                  ["variable_name", "conditions"],
                  description="document 002's push filter: conditions on one variable, joined by `operator`"),
    "Segment": obj({"id": I, "book_id": I, "name": S, "operator": {"enum": ["and", "or"]},
                    "filters": arr({"$ref": "#/components/schemas/Filter"}), "created_at": STAMP},
                   ["id", "book_id", "name", "operator", "filters", "created_at"]),
    "CampaignMessage": obj({"sender_name": S, "sender_email": EMAIL, "subject": S, "body": S, "preheader": S,
                            "attachments": {"type": ["string", "object"]},
                            "list_id": {"type": ["integer", "array"]}},
                           ["sender_name", "sender_email", "subject", "list_id"]),
    "CampaignSummary": obj({"id": I, "name": S, "status": I, "is_sms": B, "is_viber": B, "send_date": STAMP,
                            "all_email_qty": I, "tariff_email_qty": I, "paid_email_qty": I, "overdraft_price": S,
                            "company_price": S, "overdraft_currency": S,
                            "message": {"$ref": "#/components/schemas/CampaignMessage"},
                            "statistics": obj({"sent": I, "delivered": I, "opening": I, "link_redirected": I,
                                               "unsubscribe": I, "error": I})},
                           ["id", "name", "status", "message", "statistics"]),
    "Campaign": obj({"id": I, "name": S, "is_sms": B, "is_viber": B,
                     "message": {"$ref": "#/components/schemas/CampaignMessage"},
                     "external_stat": obj({"check_open_email": B, "check_redirect_link": B}),
                     "status": I, "all_email_qty": I, "tariff_email_qty": I, "paid_email_qty": I,
                     "overdraft_price": S, "company_price": S, "overdraft_currency": S, "send_date": STAMP,
                     "permalink": S,
                     "statistics": obj({"general": {"type": "array", "items": obj(
                         {"code": I, "count": I, "explain": S}, ["code", "count", "explain"])},
                         "clicks": {"type": "array", "items": obj({"url": S, "count": I}, ["url", "count"])}},
                         ["general", "clicks"])},
                    ["id", "name", "message", "status", "statistics", "permalink"]),
    "ContactStatus": {"type": "integer", "minimum": 0, "maximum": 14,
                      "description": "0 New, 1 Active, 2 Confirmation requested, 3 Activation requested, "
                                     "4 Unsubscribed, 5 Rejected, 6 Unsubscribed from all newsletters, "
                                     "7 Activation requested, 8/10/11/12 Blocked, 9 Sending error, "
                                     "13 Deleted by the user, 14 Temporarily unavailable"},
    "TypedVariable": obj({"name": S, "type": {"enum": ["string", "number", "date"]},
                          "value": {"type": ["string", "number"]}}, ["name", "type", "value"]),
    "Book": obj({"id": I, "name": S, "all_email_qty": I, "active_email_qty": I, "inactive_email_qty": I,
                 "new_phones_quantity": I, "active_phones_quantity": I, "exc_phones_quantity": I,
                 "creationdate": STAMP, "status": I, "status_explain": S},
                ["id", "name", "all_email_qty", "active_email_qty", "inactive_email_qty", "creationdate",
                 "status", "status_explain"]),
    "Contact": obj({"email": EMAIL, "status": ref("ContactStatus"), "status_explain": S,
                    "variables": {"type": ["object", "array"]}, "phone": S},
                   ["email", "status", "status_explain", "variables"]),
    "Template": obj({"id": {"type": "string", "description": "32-hex id, changes on every edit"},
                     "real_id": {"type": "integer", "description": "never changes"},
                     "lang": S, "name": S, "name_slug": S, "created": STAMP, "full_description": {"type": ["string", "null"]},
                     "is_structure": B, "category": S, "category_info": {"type": ["object", "array"]},
                     "tags": {"type": ["array", "object"]}, "owner": {"enum": ["me", "sendpulse"]},
                     "preview": S, "body": {"type": "string", "description": OURS + "the template's HTML "
                                            "(answered by GET /template/{id} and /template/slug/{slug})"}},
                    ["id", "real_id", "lang", "name", "name_slug", "created", "owner"]),
    "SmtpEmail": obj({
        "id": {"type": "string", "description": "32-hex id answered by POST /smtp/emails"},
        "sender": S, "recipient": S, "subject": S, "total_size": I, "sender_ip": S, "used_ip": S,
        "smtp_answer_code": {"type": ["integer", "null"]}, "smtp_answer_subcode": S, "smtp_answer_data": S,
        "send_date": STAMP,
        "status": {"enum": ["queued", "sending", "sent", "deferred", "bounced", "complained", "failed",
                            "suppressed"], "description": OURS + "the copy's delivery status"},
        "status_reason": {"type": ["string", "null"], "description": OURS + "why it was not sent"},
        "tracking": obj({"click": I, "open": I, "link": arr({"type": "object"}),
                         "client_info": arr({"type": "object"})}, ["click", "open", "link", "client_info"]),
        "recipients": arr({"$ref": "#/components/schemas/SmtpEmail"},
                          description=OURS + "every copy, when the message had several recipients"),
    }, ["id", "sender", "recipient", "subject", "send_date", "status", "tracking"]),
    "CaptureSummary": obj({"id": {"type": "integer", "description": "the copy (one per recipient)"},
                           "message_id": {"type": "string", "description": "the id POST /smtp/emails answered"},
                           "from": S, "from_name": S, "to": S, "subject": S, "size": I, "created_at": STAMP,
                           "kind": {"enum": ["smtp", "system"]}},
                          ["id", "message_id", "from", "from_name", "to", "subject", "size", "created_at", "kind"]),
}
SCHEMAS["CaptureMessage"] = {"allOf": [ref("CaptureSummary"), obj({
    "envelope": obj({"mail_from": S, "rcpt_to": arr(S)}),
    "headers": arr(arr(S, minItems=2, maxItems=2), description="[name, value] pairs, decoded"),
    "text": {"type": ["string", "null"]}, "html": {"type": ["string", "null"]},
    "attachments": arr(obj({"filename": {"type": ["string", "null"]}, "content_type": S, "size": I})),
}, ["envelope", "headers", "text", "html", "attachments"])]}

RESULT = ref("Result")
EMAILS_FIELD = {"description": "addresses: a list (JSON), a comma-separated string, or PHP serialize()",
                "type": ["array", "string"], "items": {"type": ["string", "object"]}}


def body(props: dict, required: tuple | list = ()) -> dict:
    return obj(props, required)


# ---------------------------------------------------------------- routes
# "METHOD path": {summary, tag, [description], [query], [body], ok (schema) or content, [ours]}

ROUTES: dict[str, dict] = {
    "GET /healthz": {"tag": "Pulsebox", "summary": "Health check (database reachable)", "ours": True,
                     "ok": obj({"status": {"const": "ok"}}, ["status"]), "plain": True},
    "GET /openapi.json": {"tag": "Pulsebox", "summary": "This OpenAPI document", "ours": True,
                          "ok": {"type": "object"}, "plain": True},
    "GET /docs": {"tag": "Pulsebox", "summary": "The API reference page (Swagger UI)", "ours": True,
                  "content": {"text/html": {"schema": S}}, "plain": True},
    "GET /docs/{asset}": {"tag": "Pulsebox", "summary": "Static files of the reference page", "ours": True,
                          "content": {"application/javascript": {"schema": S}, "text/css": {"schema": S},
                                      "image/png": {}}, "plain": True},
    # ---- oauth
    "POST /oauth/access_token": {
        "tag": "Authorization", "summary": "Get a bearer token (client_credentials)",
        "description": "A token lives an hour (`expires_in` seconds); a new token does not end earlier ones.",
        "body": body({"grant_type": {"const": "client_credentials"}, "client_id": S, "client_secret": S},
                     ["grant_type", "client_id", "client_secret"]),
        "ok": obj({"access_token": S, "token_type": {"const": "Bearer"}, "expires_in": I},
                  ["access_token", "token_type", "expires_in"])},
    # ---- mailing lists
    "POST /addressbooks": {"tag": "Mailing lists", "summary": "Create a mailing list",
                           "body": body({"bookName": S}, ["bookName"]), "ok": obj({"id": I}, ["id"])},
    "GET /addressbooks": {"tag": "Mailing lists", "summary": "List mailing lists", "query": PAGING,
                          "ok": arr(ref("Book"))},
    "DELETE /addressbooks": {"tag": "Mailing lists", "summary": "Delete a list, or contacts from it (document 002)",
                             "body": body({"id": I, "emails": EMAILS_FIELD}, ["id"]), "ok": RESULT},
    "GET /addressbooks/{id}": {"tag": "Mailing lists", "summary": "Mailing list information",
                               "ok": arr(ref("Book"), maxItems=1)},
    "PUT /addressbooks/{id}": {"tag": "Mailing lists", "summary": "Rename a mailing list",
                               "body": body({"name": S}, ["name"]), "ok": RESULT},
    "DELETE /addressbooks/{id}": {"tag": "Mailing lists", "summary": "Delete a mailing list", "ok": RESULT},
    "GET /addressbooks/{id}/variables": {"tag": "Mailing lists", "summary": "The list's variables",
                                         "ok": arr(obj({"name": S, "type": {"enum": ["string", "number", "date"]}},
                                                       ["name", "type"]))},
    "GET /addressbooks/{id}/variables/{name}/{value}": {
        "tag": "Mailing lists", "summary": "Contacts whose variable has a value", "query": PAGING,
        "ok": arr(obj({"email": EMAIL, "status": ref("ContactStatus"), "status_explain": S},
                      ["email", "status", "status_explain"]))},
    "GET /addressbooks/{id}/variables/{name}": {
        "tag": "Mailing lists", "summary": "Contacts by variable, without the value (always error 8)",
        "description": "`searchValue` is required: this path only answers error 8 saying so.",
        "ok": arr({"type": "object"})},
    "GET /addressbooks/{id}/emails": {
        "tag": "Contacts", "summary": "List the list's contacts",
        "query": PAGING + [q("active", B, "New and Active contacts only"), q("not_active", B, "the others")],
        "ok": arr(ref("Contact"))},
    "POST /addressbooks/{id}/emails": {
        "tag": "Contacts", "summary": "Add contacts (single or double opt-in)",
        "body": body({"emails": {"type": ["array", "string"], "items": {"type": ["string", "object"]},
                                 "description": "addresses, or {email, variables} objects (`Phone` is the phone)"},
                      "confirmation": {"const": "force", "description": "double opt-in"},
                      "sender_email": EMAIL, "message_lang": {"enum": ["en", "ru", "ua", "tr", "es", "pt"]},
                      "template_id": S}, ["emails"]),
        "ok": RESULT},
    "DELETE /addressbooks/{id}/emails": {"tag": "Contacts", "summary": "Delete contacts (at most 100)",
                                         "body": body({"emails": EMAILS_FIELD}, ["emails"]), "ok": RESULT},
    "GET /addressbooks/{id}/emails/total": {"tag": "Contacts", "summary": "How many contacts the list has",
                                            "ok": obj({"total": I}, ["total"])},
    "POST /addressbooks/{id}/emails/variable": {
        "tag": "Contacts", "summary": "Change a contact's variables",
        "body": body({"email": EMAIL, "variables": {"type": ["object", "array"]}}, ["email", "variables"]),
        "ok": RESULT},
    "PUT /addressbooks/{id}/emails/variable": "POST /addressbooks/{id}/emails/variable",
    "POST /addressbooks/{id}/emails/unsubscribe": {"tag": "Contacts", "summary": "Unsubscribe contacts",
                                                   "body": body({"emails": EMAILS_FIELD}, ["emails"]), "ok": RESULT},
    "GET /addressbooks/{id}/emails/{email}": {
        "tag": "Contacts", "summary": "A contact of the list",
        "ok": obj({"email": EMAIL, "abook_id": I, "phone": S, "status": ref("ContactStatus"), "status_explain": S,
                   "variables": arr(ref("TypedVariable"))},
                  ["email", "abook_id", "phone", "status", "status_explain", "variables"])},
    "PUT /addressbooks/{id}/phone": {"tag": "Contacts", "summary": "Change a contact's phone",
                                     "body": body({"email": EMAIL, "phone": S}, ["email", "phone"]), "ok": RESULT},
    "POST /addressbooks/{id}/phone": "PUT /addressbooks/{id}/phone",
    "GET /addressbooks/{id}/campaigns": {"tag": "Mailing lists", "summary": "Campaigns sent to the list",
                                         "query": PAGING,
                                         "ok": arr(obj({"task_id": I, "task_name": S, "task_status": I},
                                                       ["task_id", "task_name", "task_status"]))},
    "GET /addressbooks/{id}/cost": {
        "tag": "Mailing lists", "summary": "What a campaign to the list would cost",
        "ok": obj({"cur": S, "sent_emails_qty": I, "overdraftAllEmailsPrice": N, "addressesDeltaFromBalance": I,
                   "addressesDeltaFromTariff": I, "max_emails_per_task": I, "result": B},
                  ["cur", "sent_emails_qty", "result"])},
    # ---- segments (ours)
    "POST /addressbooks/{id}/segments": {
        "tag": "Mailing lists", "ours": True, "summary": "Save a segment: contacts whose variables pass filters",
        "body": body({"name": S, "operator": {"enum": ["and", "or"]}, "filters": arr(ref("Filter")),
                      "filter": ref("Filter")}, ["name"]),
        "ok": obj({"result": B, "id": I}, ["result", "id"])},
    "GET /addressbooks/{id}/segments": {"tag": "Mailing lists", "ours": True, "summary": "The list's segments",
                                        "ok": arr(ref("Segment"))},
    "GET /addressbooks/{id}/segments/{segment_id}": {"tag": "Mailing lists", "ours": True, "summary": "A segment",
                                                     "ok": ref("Segment")},
    "DELETE /addressbooks/{id}/segments/{segment_id}": {"tag": "Mailing lists", "ours": True,
                                                        "summary": "Delete a segment", "ok": RESULT},
    "GET /addressbooks/{id}/segments/{segment_id}/count": {
        "tag": "Mailing lists", "ours": True, "summary": "How many contacts a segment selects (active: New or Active)",
        "ok": obj({"total": I, "active": I}, ["total", "active"])},
    # ---- one address across every list
    "POST /emails": {"tag": "Emails", "summary": "Several addresses in every list",
                     "body": body({"emails": EMAILS_FIELD}, ["emails"]),
                     "ok": {"type": "object", "additionalProperties": arr(obj(
                         {"book_id": I, "status": ref("ContactStatus"), "variables": arr(ref("TypedVariable"))},
                         ["book_id", "status", "variables"])), "description": "address -> its lists"}},
    "POST /emails/campaigns": {
        "tag": "Emails", "summary": "Campaign statistics of several addresses",
        "body": body({"emails": EMAILS_FIELD}, ["emails"]),
        "ok": {"type": "object", "additionalProperties": obj(
            {"sent": I, "open": I, "link": I, "blacklist": B,
             "adressbooks": arr(obj({"id": I, "name": S}))}, ["sent", "open", "link", "adressbooks", "blacklist"])}},
    "GET /emails/{email}": {
        "tag": "Emails", "summary": "An address in every list",
        "ok": arr(obj({"book_id": I, "email": EMAIL, "status": ref("ContactStatus"), "status_explain": S,
                       "variables": arr(ref("TypedVariable"))}, ["book_id", "email", "status", "variables"]))},
    "DELETE /emails/{email}": {"tag": "Emails", "summary": "Delete an address from every list", "ok": RESULT},
    "GET /emails/{email}/details": {
        "tag": "Emails", "summary": "The lists an address is in",
        "ok": arr(obj({"list_name": S, "list_id": I, "add_date": STAMP, "source": {}},
                      ["list_name", "list_id", "add_date"]))},
    "GET /emails/{email}/campaigns": {
        "tag": "Emails", "summary": "Campaign statistics of an address",
        "ok": obj({"statistic": obj({"sent": I, "open": I, "link": I}, ["sent", "open", "link"]), "blacklist": B,
                   "addressbooks": arr(obj({"id": I, "address_book_name": S}))},
                  ["statistic", "blacklist", "addressbooks"])},
    # ---- campaigns
    "POST /campaigns": {
        "tag": "Campaigns", "summary": "Create a campaign (sent now, scheduled, a draft or a test)",
        "body": body({"sender_name": S, "sender_email": EMAIL, "subject": S,
                      "body": {"type": "string", "description": "html, base64"},
                      "template_id": {"type": ["integer", "string"]},
                      "list_id": {"type": ["integer", "string", "array"]}, "segment_id": I, "name": S,
                      "send_date": STAMP, "is_test": B, "type": {"enum": ["draft"]}, "use_dynamic_list": B,
                      "attachments": {"type": ["object", "string"]}, "attachments_binary": {"type": "object"},
                      "body_amp": S, "stats": obj({"opens": B, "clicks": B, "utm_campaign": S})},
                     ["sender_name", "sender_email", "subject"]),
        "ok": obj({"id": I, "status": I, "count": I, "tariff_email_qty": I, "overdraft_price": S,
                   "ovedraft_currency": S}, ["id", "status", "count"])},
    "GET /campaigns": {
        "tag": "Campaigns", "summary": "List campaigns",
        "query": PAGING + [q("order", {"enum": ["asc", "desc"]}), q("status[]", I, "only these statuses"),
                           q("planed", B, "only scheduled campaigns")],
        "ok": arr(ref("CampaignSummary"))},
    "GET /campaigns/{id}": {"tag": "Campaigns", "summary": "A campaign with its statistics", "ok": ref("Campaign")},
    "PATCH /campaigns/{id}": {
        "tag": "Campaigns", "summary": "Edit a scheduled campaign or a draft (a draft given send_date is scheduled)",
        "body": body({"name": S, "sender_name": S, "sender_email": EMAIL, "subject": S, "body": S,
                      "template_id": {"type": ["integer", "string"]}, "send_date": STAMP}),
        "ok": obj({"result": B, "id": I}, ["result", "id"])},
    "DELETE /campaigns/{id}": {"tag": "Campaigns", "summary": "Cancel a campaign (a send stops)", "ok": RESULT},
    "GET /campaigns/{id}/countries": {"tag": "Campaigns", "summary": "Opens by country",
                                      "ok": {"type": "object", "additionalProperties": I}},
    "GET /campaigns/{id}/referrals": {"tag": "Campaigns", "summary": "Clicks by link",
                                      "ok": arr(obj({"link": S, "count": I}, ["link", "count"]))},
    "GET /campaigns/{id}/email/{email}": {
        "tag": "Campaigns", "summary": "What became of the campaign's message to one address",
        "ok": obj({"sent_date": STAMP, "global_status": I, "global_status_explain": S, "detail_status": I,
                   "detail_status_explain": S},
                  ["global_status", "global_status_explain", "detail_status", "detail_status_explain"])},
    # ---- blacklist
    "GET /blacklist": {"tag": "Blacklist", "summary": "The blacklist", "query": PAGING, "ok": arr(S)},
    "POST /blacklist": {"tag": "Blacklist", "summary": "Blacklist addresses",
                        "body": body({"emails": EMAILS_FIELD, "comment": S}, ["emails"]), "ok": RESULT},
    "DELETE /blacklist": {"tag": "Blacklist", "summary": "Remove addresses from the blacklist",
                          "body": body({"emails": EMAILS_FIELD}, ["emails"]), "ok": RESULT},
    # ---- senders
    "GET /senders": {"tag": "Senders", "summary": "The account's senders",
                     "ok": arr(obj({"email": EMAIL, "name": S, "status": {"enum": ["Active", "Inactive"]},
                                    "is_allowed_for_smtp": {"type": ["boolean", "integer"]}},
                                   ["email", "name", "status"]))},
    "POST /senders": {"tag": "Senders", "summary": "Add a sender (inactive until activated)",
                      "body": body({"email": EMAIL, "name": S}, ["email", "name"]), "ok": RESULT},
    "DELETE /senders": {"tag": "Senders", "summary": "Delete a sender", "body": body({"email": EMAIL}, ["email"]),
                        "ok": RESULT},
    "GET /senders/{email}/code": {"tag": "Senders", "summary": "Mail the sender an activation code",
                                  "ok": obj({"result": {"const": True}, "email": EMAIL}, ["result", "email"])},
    "POST /senders/{email}/code": {"tag": "Senders", "summary": "Activate a sender with its code",
                                   "body": body({"code": S}, ["code"]),
                                   "ok": obj({"result": {"const": True}, "email": EMAIL}, ["result", "email"])},
    # ---- templates
    "POST /template": {"tag": "Templates", "summary": "Create a template",
                       "body": body({"name": S, "body": {"type": "string", "description": "HTML, base64 or plain"},
                                     "lang": S}, ["body", "lang"]),
                       "ok": obj({"result": {"const": True}, "real_id": I}, ["result", "real_id"])},
    "POST /template/edit/{id}": {"tag": "Templates", "summary": "Edit a template's body",
                                 "body": body({"body": S, "lang": S}, ["body"]), "ok": RESULT},
    "PUT /template/edit/{id}": "POST /template/edit/{id}",
    "GET /template/slug/{slug}": {"tag": "Templates", "summary": "A template by its slug (`name_slug`)",
                                  "ok": ref("Template")},
    "GET /template/{id}": {"tag": "Templates", "summary": "A template by `real_id` or `id`", "ok": ref("Template")},
    "GET /templates": {"tag": "Templates", "summary": "List templates",
                       "query": PAGING + [q("owner", {"enum": ["me", "sendpulse"]})], "ok": arr(ref("Template"))},
    "GET /templates/{lang}": {"tag": "Templates", "summary": "List templates in one language",
                              "query": PAGING + [q("owner", {"enum": ["me", "sendpulse"]})],
                              "ok": arr(ref("Template"))},
    # ---- balance
    "GET /balance": {"tag": "Balance", "summary": "Balance", "ok": obj({"currency": S, "balance_currency": N},
                                                                       ["currency", "balance_currency"])},
    "GET /balance/{currency}": {"tag": "Balance", "summary": "Balance in a currency (the account's only)",
                                "ok": obj({"currency": S, "balance_currency": N}, ["currency", "balance_currency"])},
    "GET /user/balance/detail": {
        "tag": "Balance", "summary": "Balance and plans in detail",
        "ok": obj({"balance": obj({"main": S, "bonus": S, "currency": S}, ["main", "bonus", "currency"]),
                   "email": obj({"tariff_name": S, "finished_time": STAMP, "emails_left": I,
                                 "maximum_subscribers": I, "current_subscribers": I}),
                   "smtp": obj({"tariff_name": S, "end_date": STAMP, "auto_renew": I}),
                   "push": obj({"tariff_name": S, "end_date": STAMP, "auto_renew": I})},
                  ["balance", "email", "smtp"])},
    # ---- SMTP
    "POST /smtp/emails": {
        "tag": "SMTP", "summary": "Send an email",
        "description": "Queues one copy per recipient (to, cc, bcc); the worker sends them. Our extensions: "
                       "`email.variables`, `email.track_opens: 0`, `email.track_clicks: 0`.",
        "body": body({"email": obj({
            "subject": S, "html": {"type": "string", "description": "base64"}, "text": S,
            "from": obj({"name": S, "email": EMAIL}, ["email"]),
            "to": arr(obj({"name": S, "email": EMAIL}, ["email"])),
            "cc": arr(obj({"name": S, "email": EMAIL}, ["email"])),
            "bcc": arr(obj({"name": S, "email": EMAIL}, ["email"])),
            "reply_to": {"type": ["string", "object"], "description": "Reply-To address"},
            "headers": {"type": "object", "additionalProperties": S,
                        "description": "`X-...` and the list headers the README names; others are refused (800)"},
            "attachments": {"type": "object", "additionalProperties": S, "description": "name -> text"},
            "attachments_binary": {"type": "object", "additionalProperties": S, "description": "name -> base64"},
            "template": obj({"id": {"type": ["integer", "string"]}, "variables": {"type": "object"}}),
            "variables": {"type": "object", "description": OURS + "`{{name}}` placeholders' values"},
            "track_opens": {"enum": [0, 1], "description": OURS + "0: no open tracking"},
            "track_clicks": {"enum": [0, 1], "description": OURS + "0: no click tracking"},
        }, ["from", "to"])}, ["email"]),
        "ok": obj({"result": {"const": True}, "id": S}, ["result", "id"])},
    "GET /smtp/emails": {
        "tag": "SMTP", "summary": "List sent emails (copies), newest first",
        "query": PAGING + [q("from", S, "YYYY-MM-DD[ hh:mm:ss]"), q("to", S, "YYYY-MM-DD[ hh:mm:ss]"),
                           q("sender", S), q("recipient", S)],
        "ok": arr(ref("SmtpEmail"))},
    "GET /smtp/emails/{id}": {"tag": "SMTP", "summary": "An email's first copy (and every copy)",
                              "ok": ref("SmtpEmail")},
    "POST /smtp/unsubscribe": {"tag": "SMTP", "summary": "Add addresses to the SMTP unsubscribe list",
                               "body": body({"emails": arr(obj({"email": EMAIL, "comment": S}, ["email"]))},
                                            ["emails"]), "ok": RESULT},
    "DELETE /smtp/unsubscribe": {"tag": "SMTP", "summary": "Remove addresses from the SMTP unsubscribe list",
                                 "body": body({"emails": EMAILS_FIELD}, ["emails"]), "ok": RESULT},
    "GET /smtp/unsubscribe": {"tag": "SMTP", "summary": "The SMTP unsubscribe list",
                              "query": PAGING + DAY,
                              "ok": arr(obj({"email": EMAIL, "comment": {"type": ["string", "null"]}, "date": STAMP},
                                            ["email", "date"]))},
    "GET /smtp/ips": {"tag": "SMTP", "summary": "Sending IP addresses", "ok": arr(S)},
    "GET /smtp/domains": {"tag": "SMTP", "summary": "Verified sending domains", "ok": arr(S)},
    "POST /smtp/domains": {"tag": "SMTP", "summary": "Add a sending domain",
                           "body": body({"email": EMAIL}, ["email"]), "ok": RESULT},
    "GET /smtp/domains/{email}": {"tag": "SMTP", "summary": "Mail a domain verification code",
                                  "description": "Document 002 writes this path `/domains/{email}`.", "ok": RESULT},
    "POST /smtp/domains/{email}": {"tag": "SMTP", "summary": "Verify a domain with its code", "ours": True,
                                   "description": "Completes `GET /smtp/domains/{email}` with the mailed code.",
                                   "body": body({"code": S}, ["code"]), "ok": RESULT},
    "GET /smtp/bounces/day": {"tag": "SMTP", "summary": "Bounces of a day",
                              "query": PAGING + DAY,
                              "ok": arr(obj({"email": S, "type": S, "smtp_answer_code": {},
                                             "smtp_answer_subcode": {}, "smtp_answer_data": {}, "source": {},
                                             "date": STAMP}, ["email", "date"]))},
    # ---- captured mail (ours)
    "GET /capture/messages": {
        "tag": "Captured mail", "ours": True, "summary": "Captured copies, newest first (capture:// only)",
        "query": [q("limit", {"type": "integer", "maximum": 100}), q("offset", I),
                  q("recipient", S, "the recipient's address"), q("subject", S, "subject contains (any case)")],
        "ok": arr(ref("CaptureSummary"))},
    "DELETE /capture/messages": {"tag": "Captured mail", "ours": True, "summary": "Delete the captured files",
                                 "ok": obj({"result": {"const": True}, "deleted": I}, ["result", "deleted"])},
    "GET /capture/messages/{id}.eml": {"tag": "Captured mail", "ours": True,
                                       "summary": "A captured copy exactly as sent",
                                       "content": {"message/rfc822": {"schema": S}}},
    "GET /capture/messages/{id}": {"tag": "Captured mail", "ours": True, "summary": "A captured copy, decoded",
                                   "ok": ref("CaptureMessage")},
    # ---- webhooks (document 004, v2)
    "GET /v2/email-service/webhook": {"tag": "Webhooks", "summary": "List the account's webhooks",
                                      "ok": obj({"success": B, "data": arr(ref("Webhook"))}, ["success", "data"])},
    "POST /v2/email-service/webhook": {
        "tag": "Webhooks", "summary": "Create webhooks: one row per action, sharing one signing secret",
        "body": body({"url": S, "actions": {"type": ["string", "array"], "items": S},
                      "service": {"enum": ["email", "smtp"], "description": OURS + "smtp: the SMTP webhook's events "
                                  "(transactional mail); default email"}}, ["url", "actions"]),
        "ok": obj({"success": B, "data": arr(ref("Webhook"))}, ["success", "data"])},
    "GET /v2/email-service/webhook/{id}": {"tag": "Webhooks", "summary": "A webhook",
                                           "ok": obj({"success": B, "data": ref("Webhook")}, ["success", "data"])},
    "PUT /v2/email-service/webhook/{id}": {"tag": "Webhooks", "summary": "Change a webhook's URL",
                                           "body": body({"url": S}, ["url"]),
                                           "ok": obj({"success": B, "data": arr(B)}, ["success", "data"])},
    "DELETE /v2/email-service/webhook/{id}": {"tag": "Webhooks", "summary": "Delete a webhook",
                                              "ok": obj({"success": B, "data": arr(B)}, ["success", "data"])},
    "POST /v2/email-service/webhook/{id}/secret": {
        "tag": "Webhooks", "ours": True, "summary": "Rotate a webhook's signing secret (the new one is answered)",
        "ok": obj({"success": B, "data": ref("Webhook")}, ["success", "data"])},
    "GET /v2/email-service/webhook/{id}/log": {
        "tag": "Webhooks", "ours": True, "summary": "The webhook's recent posts (newest first, 100 kept)",
        "ok": obj({"success": B, "data": arr(obj({"at": STAMP, "events": I, "status": {"type": ["integer", "null"]},
                                                   "latency_ms": I, "error": {"type": ["string", "null"]},
                                                   "delivered": B}))}, ["success", "data"])},
    # ---- web push (document 002; info, code and a task's statistics: the PHP client's newer routes)
    "GET /push/tasks": {"tag": "Web push", "summary": "Push campaigns, newest first",
                        "query": PAGING + [q("website_id", I), q("from", STAMP, "sent from (Y-m-d H:i:s)"),
                                           q("to", STAMP, "sent until")],
                        "ok": arr(ref("PushTask"))},
    "POST /push/tasks": {
        "tag": "Web push", "summary": "Create a push campaign",
        "description": "One per website per `PULSEBOX_PUSH_TASK_INTERVAL` (error 711). A notification that "
                       "cannot fit a push message (RFC 8291: 3,993 bytes with its links) is refused.",
        "body": body({"title": S, "website_id": I, "body": S, "ttl": {"type": ["integer", "string"], "maximum": 86400},
                      "link": S, "filter_lang": S, "filter_browser": S, "filter_region": {},
                      "filter_url": {"description": "{type: direct|include|exclude, search} (or its JSON)"},
                      "filter": {"description": "{variable_name, operator, conditions} (or its JSON)"},
                      "send_date": STAMP, "stretch_time": I,
                      "icon": {"description": "a URL, or an upload {name, data: base64 of a JPG, PNG or GIF "
                               "of at most 200 KB} (or its JSON), served by Pulsebox"},
                      "image": {"description": "as icon"},
                      "buttons": {"description": "at most 2 {text, link} (or their JSON)"}},
                     ["title", "website_id", "body", "ttl"]),
        "ok": obj({"result": {"const": True}, "id": I}, ["result", "id"])},
    "GET /push/tasks/{id}": {
        "tag": "Web push", "summary": "A push campaign's statistics",
        "ok": obj({"id": I, "message": obj({"title": S, "text": S, "link": S}), "website": S, "website_id": I,
                   "status": I, "send": S, "delivered": I, "redirect": I},
                  ["id", "message", "website_id", "status", "send", "delivered", "redirect"])},
    "GET /push/websites": {"tag": "Web push", "summary": "The account's websites", "query": PAGING,
                           "ok": arr(obj({"id": I, "url": S, "add_date": STAMP, "status": I},
                                         ["id", "url", "add_date", "status"]))},
    "POST /push/websites": {"tag": "Web push", "ours": True, "summary": "Add a website (makes its VAPID key pair)",
                            "body": body({"url": S}, ["url"]),
                            "ok": obj({"result": {"const": True}, "id": I, "appkey": S, "vapid_public_key": S},
                                      ["result", "id", "appkey", "vapid_public_key"])},
    "GET /push/websites/total": {"tag": "Web push", "summary": "How many websites",
                                 "ok": obj({"total": I}, ["total"])},
    "GET /push/websites/info/{id}": {
        "tag": "Web push", "summary": "A website and its subscriber counts",
        "ok": obj({"id": I, "url": S, "status": S, "add_date": STAMP, "total_subscribers": I, "unsubscribed": I,
                   "subscribers_today": I, "active_subscribers": I, "appkey": {"type": "string", "description": OURS},
                   "vapid_public_key": {"type": "string", "description": OURS + "the applicationServerKey"}},
                  ["id", "url", "status", "total_subscribers", "active_subscribers"])},
    "GET /push/websites/{id}/code": {
        "tag": "Web push", "summary": "The snippet a website puts on its pages",
        "ok": obj({"script_url": S, "script_code": S,
                   "service_worker_path": {"type": "string", "description": OURS + "where the site serves the worker"},
                   "service_worker_code": {"type": "string", "description": OURS + "the worker file's text"}},
                  ["script_url", "script_code"])},
    "GET /push/websites/{id}/variables": {"tag": "Web push", "summary": "Variables the subscribers carry",
                                          "ok": arr(obj({"id": I, "name": S, "type": S}, ["id", "name", "type"]))},
    "GET /push/websites/{id}/subscriptions": {
        "tag": "Web push", "summary": "A website's subscribers", "query": PAGING,
        "ok": arr(obj({"id": I, "browser": S, "lang": S, "os": S, "country_code": S, "variables": arr({}),
                       "subscription_date": STAMP, "status": {"enum": [0, 1, 6]}}, ["id", "status"]))},
    "GET /push/websites/{id}/subscriptions/total": {"tag": "Web push", "summary": "How many subscribers",
                                                    "ok": obj({"total": I}, ["total"])},
    "POST /push/subscriptions/state": {"tag": "Web push", "summary": "Activate (1) or deactivate (0) a subscriber",
                                       "body": body({"id": I, "state": {"enum": [0, 1]}}, ["id", "state"]),
                                       "ok": RESULT},
    "POST /push/subscribe": {
        "tag": "Web push", "ours": True, "summary": "A browser subscribes (public: the snippet calls it)",
        "description": "No bearer token: the website's `appkey` names it. JSON whatever the Content-Type "
                       "(the snippet sends text/plain: a CORS simple request). Rate limited per client address.",
        "body": body({"appkey": S, "subscription": obj({"endpoint": S, "keys": obj({"p256dh": S, "auth": S})}),
                      "lang": S, "browser": S, "os": S, "url": S, "variables": {"type": "object"},
                      "old_endpoint": S}, ["appkey", "subscription"]),
        "ok": obj({"result": {"const": True}, "id": I}, ["result", "id"])},
    "OPTIONS /push/subscribe": {"tag": "Web push", "ours": True, "plain": True, "status": "204",
                                "summary": "CORS preflight of a subscription sent as application/json"},
    "GET /push/sdk/worker.js": {"tag": "Web push", "ours": True, "plain": True, "summary": "The service worker",
                                "content": {"text/javascript": {"schema": S}}},
    "GET /push/sdk/{appkey}.js": {"tag": "Web push", "ours": True, "plain": True,
                                  "summary": "A website's snippet script", "content": {"text/javascript": {"schema": S}}},
    "POST /t/ps/{token}": {"tag": "Public links", "ours": True, "plain": True, "status": "204",
                           "summary": "A service worker reports a push shown (its `delivered`)"},
    "GET /t/pp/{token}": {"tag": "Public links", "ours": True, "plain": True,
                          "summary": "An icon or image uploaded with a push campaign",
                          "content": {"image/png": {}, "image/jpeg": {}, "image/gif": {}}},
    "GET /t/pc/{token}": {"tag": "Public links", "ours": True, "plain": True, "status": "302",
                          "summary": "A push notification's click (or a button's): counted, then redirected"},
    # ---- the admin UI (ours): pages for a browser, signed in with a session cookie (not the API's token)
    "GET /ui": {"tag": "Admin UI", "ours": True, "plain": True, "status": "303",
                "summary": "To the inbox when signed in, else to the sign-in page"},
    "GET /ui/signin": {"tag": "Admin UI", "ours": True, "plain": True, "summary": "The sign-in page",
                       "content": {"text/html": {"schema": S}}},
    "POST /ui/signin": {"tag": "Admin UI", "ours": True, "plain": True, "status": "303",
                        "summary": "Sign in (client_id + client_secret, or name + UI password; rate limited)",
                        "form": obj({"csrf": S, "account": S, "secret": S})},
    "POST /ui/signout": {"tag": "Admin UI", "ours": True, "plain": True, "status": "303", "summary": "Sign out",
                         "form": obj({"csrf": S})},
    "GET /ui/inbox": {"tag": "Admin UI", "ours": True, "plain": True, "summary": "The captured inbox",
                      "query": [q("q", S, "a recipient address or subject words")], "content": {"text/html": {"schema": S}}},
    "GET /ui/inbox/messages.json": {"tag": "Admin UI", "ours": True, "plain": True,
                                    "summary": "The inbox's newest messages (the page refreshes itself with it)",
                                    "query": [q("q", S)], "content": {"application/json": {"schema": arr(ref("CaptureSummary"))}}},
    "POST /ui/inbox/clear": {"tag": "Admin UI", "ours": True, "plain": True, "status": "303",
                             "summary": "Delete the captured mail", "form": obj({"csrf": S})},
    "GET /ui/inbox/{id}": {"tag": "Admin UI", "ours": True, "plain": True, "summary": "A captured message",
                           "content": {"text/html": {"schema": S}}},
    "GET /ui/inbox/{id}/html": {"tag": "Admin UI", "ours": True, "plain": True,
                                "summary": "A captured message's HTML, for its page's sandboxed frame",
                                "query": [q("images", S, "1: let remote images load")], "content": {"text/html": {"schema": S}}},
    "GET /ui/inbox/{id}/raw": {"tag": "Admin UI", "ours": True, "plain": True,
                               "summary": "A captured message as sent (.eml)",
                               "content": {"message/rfc822": {"schema": S}}},
    "GET /ui/lists": {"tag": "Admin UI", "ours": True, "plain": True, "summary": "The account's lists",
                      "content": {"text/html": {"schema": S}}},
    "POST /ui/lists": {"tag": "Admin UI", "ours": True, "plain": True, "status": "303", "summary": "Create a list",
                       "form": obj({"csrf": S, "name": S})},
    "GET /ui/lists/{id}": {"tag": "Admin UI", "ours": True, "plain": True,
                           "summary": "A list and a page of its contacts (keyset: `after` a contact id)",
                           "query": [q("after", I), q("email", S), q("variable", S), q("value", S)],
                           "content": {"text/html": {"schema": S}}},
    "POST /ui/lists/{id}/rename": {"tag": "Admin UI", "ours": True, "plain": True, "status": "303",
                                   "summary": "Rename a list", "form": obj({"csrf": S, "name": S})},
    "POST /ui/lists/{id}/delete": {"tag": "Admin UI", "ours": True, "plain": True, "status": "303",
                                   "summary": "Delete a list", "form": obj({"csrf": S})},
    "POST /ui/lists/{id}/segments": {"tag": "Admin UI", "ours": True, "plain": True, "status": "303",
                                     "summary": "Save a segment of the list (segment_name, join, var_N, cond_N, value_N)",
                                     "form": obj({"csrf": S, "segment_name": S, "join": S})},
    "GET /ui/lists/{id}/segments/count": {"tag": "Admin UI", "ours": True, "plain": True,
                                          "summary": "Contacts the builder's conditions match now",
                                          "query": [q("join", S), q("var_0", S), q("cond_0", S), q("value_0", S)],
                                          "content": {"application/json": {"schema": obj({"total": I, "active": I})}}},
    "POST /ui/lists/{id}/import": {"tag": "Admin UI", "ours": True, "plain": True, "status": "303",
                                   "summary": "Upload a CSV file of contacts (multipart: csrf, file)"},
    "GET /ui/imports/{id}": {"tag": "Admin UI", "ours": True, "plain": True,
                             "summary": "An import's column mapping, or its progress", "content": {"text/html": {"schema": S}}},
    "POST /ui/imports/{id}": {"tag": "Admin UI", "ours": True, "plain": True, "status": "303",
                              "summary": "Map an import's columns (kind_N: email | phone | variable | '', name_N) and start it",
                              "form": obj({"csrf": S})},
    "GET /ui/imports/{id}/progress": {"tag": "Admin UI", "ours": True, "plain": True, "summary": "An import's progress",
                                      "content": {"application/json": {"schema": obj({"status": S, "total": I, "done": I,
                                                                                      "added": I, "skipped": I})}}},
    "GET /ui/webhooks": {"tag": "Admin UI", "ours": True, "plain": True, "summary": "The account's webhooks",
                         "content": {"text/html": {"schema": S}}},
    "POST /ui/webhooks": {"tag": "Admin UI", "ours": True, "plain": True, "status": "303",
                          "summary": "Add webhooks (url, service, a checkbox per action)", "form": obj({"csrf": S, "url": S})},
    "GET /ui/webhooks/{id}": {"tag": "Admin UI", "ours": True, "plain": True,
                              "summary": "A webhook, its signing secret and its delivery log",
                              "content": {"text/html": {"schema": S}}},
    "POST /ui/webhooks/{id}/{action}": {"tag": "Admin UI", "ours": True, "plain": True, "status": "303",
                                        "summary": "Delete a webhook (delete) or rotate its secret (rotate)",
                                        "form": obj({"csrf": S})},
    "GET /ui/campaigns": {"tag": "Admin UI", "ours": True, "plain": True,
                          "summary": "Campaigns, and the form that makes one (with a live preview)",
                          "content": {"text/html": {"schema": S}}},
    "POST /ui/campaigns": {"tag": "Admin UI", "ours": True, "plain": True, "status": "303",
                           "summary": "Create a campaign, or (test_to) send its message to one address",
                           "form": obj({"csrf": S, "name": S, "sender_name": S, "sender_email": S, "subject": S,
                                        "body": S, "list_id": I, "send_date": S, "test_to": S})},
    "GET /ui/campaigns/{id}": {"tag": "Admin UI", "ours": True, "plain": True, "summary": "A campaign's report",
                               "content": {"text/html": {"schema": S}}},
    "GET /ui/senders": {"tag": "Admin UI", "ours": True, "plain": True, "summary": "The account's senders",
                        "content": {"text/html": {"schema": S}}},
    "POST /ui/senders": {"tag": "Admin UI", "ours": True, "plain": True, "status": "303",
                         "summary": "Add a sender (its activation code is mailed to it)",
                         "form": obj({"csrf": S, "email": S, "name": S})},
    "POST /ui/senders/{action}": {"tag": "Admin UI", "ours": True, "plain": True, "status": "303",
                                  "summary": "Activate a sender with its code, mail the code again, or delete it",
                                  "form": obj({"csrf": S, "email": S, "code": S})},
    "GET /ui/blacklist": {"tag": "Admin UI", "ours": True, "plain": True, "summary": "The account's blacklist",
                          "content": {"text/html": {"schema": S}}},
    "POST /ui/blacklist/{action}": {"tag": "Admin UI", "ours": True, "plain": True, "status": "303",
                                    "summary": "Add the addresses of a text (add) or remove one (remove)",
                                    "form": obj({"csrf": S, "emails": S, "comment": S, "email": S})},
    "GET /ui/settings": {"tag": "Admin UI", "ours": True, "plain": True,
                         "summary": "The account's API credentials, plan, balance and usage",
                         "content": {"text/html": {"schema": S}}},
    "POST /ui/settings/secret": {"tag": "Admin UI", "ours": True, "plain": True,
                                 "summary": "Rotate the API secret (the new one shown once)", "form": obj({"csrf": S}),
                                 "content": {"text/html": {"schema": S}}},
    # ui: contacts
    # ui: campaigns
    # ui: templates, unsubscribes, the transactional log
    # ui: web push
    "GET /ui/static/{name}": {"tag": "Admin UI", "ours": True, "plain": True,
                               "summary": "The UI's stylesheet and script", "content": {"text/css": {}, "text/javascript": {}}},
    # ---- public links (ours)
    "GET /t/o/{token}": {"tag": "Public links", "ours": True, "summary": "Open-tracking pixel", "plain": True,
                         "content": {"image/gif": {}}},
    "GET /t/c/{token}": {"tag": "Public links", "ours": True, "summary": "Click redirect", "plain": True,
                         "status": "302"},
    "GET /t/u/{token}": {"tag": "Public links", "ours": True, "summary": "Unsubscribe page (confirms with a button)",
                         "plain": True, "content": {"text/html": {"schema": S}}},
    "POST /t/u/{token}": {"tag": "Public links", "ours": True, "plain": True,
                          "summary": "Unsubscribe (RFC 8058 one-click, or the page's button)",
                          "form": obj({"List-Unsubscribe": {"const": "One-Click"}}),
                          "content": {"text/html": {"schema": S}}},
    "GET /t/confirm/{token}": {"tag": "Public links", "ours": True, "plain": True,
                               "summary": "Confirm a subscription (double opt-in link)",
                               "content": {"text/html": {"schema": S}}},
    "GET /t/w/{token}": {"tag": "Public links", "ours": True, "plain": True,
                         "summary": "A campaign's web version (its signed `permalink`), sandboxed",
                         "content": {"text/html": {"schema": S}}},
}

# path parameters: (name, path prefix) -> schema and description; the first match wins
PATH_PARAMS = [
    ("id", "/addressbooks", {"type": "integer"}, "mailing list id"),
    ("id", "/capture", {"type": "integer"}, "captured copy id"),
    ("id", "/ui/inbox", {"type": "integer"}, "captured copy id"),
    ("id", "/ui/lists", {"type": "integer"}, "mailing list id"),
    ("id", "/ui/imports", {"type": "integer"}, "import id"),
    ("id", "/ui/webhooks", {"type": "integer"}, "webhook id"),
    ("id", "/ui/campaigns", {"type": "integer"}, "campaign id"),
    ("action", "/ui/webhooks", {"enum": ["delete", "rotate"]}, "what to do"),
    ("action", "/ui/senders", {"enum": ["activate", "resend", "delete"]}, "what to do"),
    ("action", "/ui/blacklist", {"enum": ["add", "remove"]}, "what to do"),
    ("id", "/campaigns", {"type": "integer"}, "campaign id"),
    ("id", "/v2/email-service/webhook", {"type": "integer"}, "webhook id"),
    ("id", "/push/tasks", {"type": "integer"}, "push campaign id"),
    ("id", "/push/websites", {"type": "integer"}, "website id"),
    ("appkey", "", S, "a website's appkey"),
    ("segment_id", "", {"type": "integer"}, "segment id"),
    ("id", "/smtp", S, "email id answered by POST /smtp/emails"),
    ("id", "/template", S, "template `real_id` or `id`"),
    ("email", "/senders", EMAIL, "sender address"),
    ("email", "/smtp", EMAIL, "an address of the domain"),
    ("email", "", EMAIL, "address"),
    ("name", "", S, "variable name"),
    ("value", "", S, "value searched (searchValue)"),
    ("slug", "", S, "template slug (`name_slug`)"),
    ("lang", "", S, "template language"),
    ("currency", "", S, "currency code"),
    ("token", "", S, "signed token from the mail"),
    ("asset", "", S, "file name"),
]

"""The request wrapper at the ASGI level: a client that disconnects mid-body changes nothing."""

import asyncio

from pulsebox.app import build


def test_a_disconnect_mid_body_is_not_processed(ctx, api):
    book = api.new_book()
    app = build(ctx)
    sent = []
    messages = iter([{"type": "http.request", "body": b"emails[0]=a%40example.com&emails[1]=b%40exa", "more_body": True},
                     {"type": "http.disconnect"}])

    async def receive():
        return next(messages)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": f"/addressbooks/{book}/emails",
             "raw_path": f"/addressbooks/{book}/emails".encode(), "query_string": b"", "root_path": "",
             "headers": [(b"authorization", f"Bearer {api.token}".encode()),
                         (b"content-type", b"application/x-www-form-urlencoded")],
             "http_version": "1.1", "scheme": "http", "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1)}
    asyncio.run(app(scope, receive, send))
    # granian also reports a malformed or cut-short body as a disconnect while the client waits: it
    # gets SendPulse's error object (a client really gone never sees it)
    assert sent[0]["status"] == 400 and b'"error_code":8' in sent[1]["body"]
    assert api.get(f"/addressbooks/{book}/emails/total").json == {"total": 0}

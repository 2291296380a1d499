"""System mail end to end over a real SMTP server: the API queues a sender-activation message in the
outbox, the worker builds it and relays it through smtp:// to aiosmtpd, and the code in it activates
the sender."""

from __future__ import annotations

import re
from email import message_from_bytes
from email.policy import default

from aiosmtpd.controller import Controller

from pulsebox.delivery.transports import from_url
from pulsebox.worker.runner import Worker

from smtp_servers import Recorder, _free_port


def test_activation_code_travels_over_smtp(api, ctx):
    handler = Recorder()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        transport = from_url(f"smtp://127.0.0.1:{controller.port}?tls=none", data_dir=None)
        api.post("/senders", json={"email": "owner@shop.example", "name": "Owner"})
        assert api.get("/senders/owner@shop.example/code").json == {"result": True, "email": "owner@shop.example"}
        worker = Worker(ctx, transport)
        while worker.run_once():
            pass
        transport.close()
    finally:
        controller.stop()
    mail_from, rcpts, raw = next(m for m in handler.messages if m[1] == ["owner@shop.example"])
    message = message_from_bytes(raw, policy=default)
    # through the outbox: the envelope sender is the VERP return path, the From the system sender
    assert re.fullmatch(r"bounce\+[0-9a-f.]+@pulsebox\.localhost", mail_from), mail_from
    assert message["From"] == ctx.settings.system_from and message["To"] == "owner@shop.example"
    code = re.search(r"Activation code: (\w+)", message.get_content())[1]
    assert api.post("/senders/owner@shop.example/code", json={"code": code}).json["result"] is True
    assert api.get("/senders").json[0]["status"] == "Active"

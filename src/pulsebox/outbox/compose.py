"""One recipient's copy of a message: signed tracking links, List-Unsubscribe, a Message-ID of its
own and the VERP return path, as the bytes the transport sends.

What every copy of a message shares (:class:`Prepared`: the stored message decoded once, its html
split at its links once) is made once per round; each copy is then a join and a MIME build.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pulsebox import links
from pulsebox.delivery import message as mime
from pulsebox.delivery.render import Compiled, Trackable
from pulsebox.outbox import content

if TYPE_CHECKING:
    from pulsebox.config import Settings


@dataclass
class Prepared:
    """A stored message made ready for its copies."""

    message: dict  # the row: public_id, track_opens, track_clicks, ...
    mail: mime.Mail  # with the text alternative filled in
    skeleton: mime.Skeleton  # its header lines, AMP part and attachments, encoded once
    trackable: Trackable | None  # the html split at its links, once per message
    subject: Compiled  # split at its placeholders, for copies with variables of their own
    text: Compiled  # the text part, encoded once (its literal pieces) for every copy
    has_links: bool  # clicks can be tracked: the split found the links stored at accept
    list_unsubscribe: bool  # each copy gets its own List-Unsubscribe (the message sets none of its own)


def prepare(message: dict) -> Prepared:
    mail = content.decode(message)
    if mail.html:  # one line-end convention before splitting: pieces are encoded one by one
        mail.html = mail.html.replace("\r\n", "\n").replace("\r", "\n")
    trackable = Trackable(mail.html) if mail.html else None
    stored = content.links(message["content"])
    # a click names its link by index into the links stored at accept: if this split finds other
    # links (a message accepted by an older version), its links are left as they are
    has_links = bool(trackable and stored and trackable.links == stored)
    if not mail.text and mail.html:  # made from the html before tracking rewrites its links
        mail.text = mime.text_from_html(mail.html)
    return Prepared(message=message, mail=mail, skeleton=mime.skeleton(mail), trackable=trackable, has_links=has_links,
                    list_unsubscribe=content.adds_list_unsubscribe(message["content"])
                    and not any(h.lower() == "list-unsubscribe" for h in mail.headers),
                    subject=Compiled(mail.subject), text=Compiled(mail.text or ""))


class Composer:
    """Builds one recipient's copy: the envelope sender and the bytes to send."""

    def __init__(self, settings: Settings) -> None:
        self.key = settings.signing_key
        self.base = settings.public_url
        self.domain = settings.return_path_domain

    def compose(self, delivery: dict, p: Prepared) -> tuple[str, bytes]:
        """A message without To (a campaign's) goes to each copy's own address; a copy with
        ``variables`` has its subject, html and text personalised (``{{email}}`` is its address)."""
        message, delivery_id = p.message, delivery["id"]
        variables = delivery.get("variables")
        if variables is not None:
            variables = {"email": delivery["email"], **variables}
        track_clicks = message["track_clicks"] and p.has_links
        encoded_html = None
        if p.trackable:
            click = links.click_urls(self.base, self.key, delivery_id) if track_clicks else None
            pixel = links.open_url(self.base, self.key, delivery_id) if message["track_opens"] else None
            encoded_html = p.trackable.encoded(click_url=click, pixel_url=pixel, variables=variables)
        headers = None
        if p.list_unsubscribe:
            # RFC 2369 section 3.2 (URL and mailto), RFC 8058 section 3.1 (one-click POST)
            headers = {"List-Unsubscribe": links.list_unsubscribe(self.base, self.domain, self.key, delivery_id),
                       "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
        data = p.skeleton.copy(
            text=mime.qp_join(p.text.encoded(variables)), html=encoded_html,
            message_id=f"<{message['public_id']}.{delivery_id:x}@{self.domain}>",
            to=None if p.mail.to else mime.Address(delivery["email"]),
            subject=p.subject.render(variables) if variables is not None else None, headers=headers)
        return links.return_path(self.domain, self.key, delivery_id), data

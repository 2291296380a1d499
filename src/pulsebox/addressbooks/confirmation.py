"""The double-opt-in confirmation message (document 004, "Add emails to a mailing list
(double-opt-in)"): one short text per ``message_lang`` (en, ru, ua, tr, es, pt), or the account's
own template, in which ``{{confirmation_link}}`` marks where the signed link goes (appended at the
end when the template has no such placeholder)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

DEFAULT_LANG = "en"
PLACEHOLDER = re.compile(r"\{\{\s*confirmation_link\s*\}\}")


@dataclass(frozen=True)
class Wording:
    subject: str
    greeting: str
    intro: str  # {email} and {book}
    action: str
    button: str
    ignore: str


WORDINGS: dict[str, Wording] = {
    "en": Wording(
        subject="Please confirm your subscription",
        greeting="Hello,",
        intro="Someone (we hope you) asked to subscribe {email} to the mailing list \u201c{book}\u201d.",
        action="To confirm your subscription, open this link:",
        button="Confirm subscription",
        ignore="If you did not ask for this, just ignore this message: without your confirmation "
               "you will not receive any mailings.",
    ),
    "ru": Wording(
        subject="Подтвердите подписку",
        greeting="Здравствуйте!",
        intro="Кто-то (надеемся, вы) попросил подписать адрес {email} на рассылку \u00ab{book}\u00bb.",
        action="Чтобы подтвердить подписку, перейдите по ссылке:",
        button="Подтвердить подписку",
        ignore="Если вы не подписывались, просто проигнорируйте это письмо: без вашего подтверждения "
               "рассылка приходить не будет.",
    ),
    "ua": Wording(
        subject="Підтвердіть підписку",
        greeting="Вітаємо!",
        intro="Хтось (сподіваємося, ви) попросив підписати адресу {email} на розсилку \u00ab{book}\u00bb.",
        action="Щоб підтвердити підписку, перейдіть за посиланням:",
        button="Підтвердити підписку",
        ignore="Якщо ви не підписувалися, просто проігноруйте цей лист: без вашого підтвердження "
               "розсилка не надходитиме.",
    ),
    "tr": Wording(
        subject="Lütfen aboneliğinizi onaylayın",
        greeting="Merhaba,",
        intro="{email} adresinin \u201c{book}\u201d e-posta listesine abone edilmesi istendi.",
        action="Aboneliğinizi onaylamak için bu bağlantıyı açın:",
        button="Aboneliği onayla",
        ignore="Bu isteği siz yapmadıysanız bu e-postayı dikkate almayın: onayınız olmadan "
               "size hiçbir bülten gönderilmeyecek.",
    ),
    "es": Wording(
        subject="Confirma tu suscripción",
        greeting="Hola:",
        intro="Alguien (esperamos que tú) ha pedido suscribir {email} a la lista de correo \u00ab{book}\u00bb.",
        action="Para confirmar tu suscripción, abre este enlace:",
        button="Confirmar suscripción",
        ignore="Si no lo has pedido, ignora este mensaje: sin tu confirmación no recibirás ningún envío.",
    ),
    "pt": Wording(
        subject="Confirme a sua inscrição",
        greeting="Olá,",
        intro="Alguém (esperamos que tenha sido você) pediu para inscrever {email} na lista de e-mails \u00ab{book}\u00bb.",
        action="Para confirmar a sua inscrição, abra este link:",
        button="Confirmar inscrição",
        ignore="Se não fez este pedido, ignore esta mensagem: sem a sua confirmação não receberá nenhum envio.",
    ),
}


@dataclass(frozen=True)
class Confirmation:
    subject: str
    text: str
    html: str


def wording(lang: str | None) -> Wording:
    return WORDINGS.get(lang or DEFAULT_LANG, WORDINGS[DEFAULT_LANG])


def text_body(lang: str | None, email: str, book: str, link: str) -> str:
    w = wording(lang)
    return (f"{w.greeting}\n\n{w.intro.format(email=email, book=book)}\n{w.action}\n\n"
            f"{link}\n\n{w.ignore}\n")


def html_body(lang: str | None, email: str, book: str, link: str) -> str:
    w = wording(lang)
    href = html.escape(link, quote=True)
    return (f'<!doctype html>\n<html lang="{"uk" if lang == "ua" else lang or DEFAULT_LANG}">'
            f'<head><meta charset="utf-8"><title>{html.escape(w.subject)}</title></head>\n<body>\n'
            f"<p>{html.escape(w.greeting)}</p>\n"
            f"<p>{html.escape(w.intro.format(email=email, book=book))}<br>\n{html.escape(w.action)}</p>\n"
            f'<p><a href="{href}">{html.escape(w.button)}</a></p>\n'
            f'<p style="font-size:small">{href}</p>\n'
            f"<p>{html.escape(w.ignore)}</p>\n</body>\n</html>\n")


def with_link(template_body: str, link: str) -> str:
    """The account's template with the link in place of ``{{confirmation_link}}`` (every
    occurrence), or with a paragraph holding the link added before ``</body>`` (or at the end)."""
    if PLACEHOLDER.search(template_body):
        return PLACEHOLDER.sub(lambda _: html.escape(link, quote=True), template_body)
    href = html.escape(link, quote=True)
    paragraph = f'\n<p><a href="{href}">{href}</a></p>\n'
    close = template_body.lower().rfind("</body>")
    if close == -1:
        return template_body + paragraph
    return template_body[:close] + paragraph + template_body[close:]


def message(lang: str | None, email: str, book: str, link: str, template_body: str | None = None) -> Confirmation:
    """Subject, text and HTML of one confirmation message."""
    lang = lang if lang in WORDINGS else DEFAULT_LANG
    html_part = with_link(template_body, link) if template_body else html_body(lang, email, book, link)
    return Confirmation(wording(lang).subject, text_body(lang, email, book, link), html_part)

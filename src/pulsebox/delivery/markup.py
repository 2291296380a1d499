"""What mail needs to read in HTML, in time linear in the input: the links of ``<a href>`` tags
(for click tracking) and a plain-text rendering (the text alternative).

Backtracking regular expressions that scan from every ``<`` to the next ``>`` or ``</a>`` and then
fail cost O(n^2) on hostile markup (``"<a " * 30000``, 120 KB, took 54 s). Every pattern here is
built so that it cannot fail once it has started: a tag runs to its first ``>`` outside a quoted
attribute value *or to the end of the input* (the WHATWG tokenizer's "EOF in tag", HTML Living
Standard 13.2.5.32-40), a comment to ``-->`` or the end, a script to ``</script`` or the end; and
every repetition is possessive (``*+``, ``++``: Python 3.11), so nothing is ever scanned twice.
A match starts where the previous one ended, so the cost is linear whatever the input holds.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterator

_WS = r"[\t\n\f\r ]"
_NAME_END = r"(?=[\t\n\f\r />]|\Z)"
# The rest of a tag after its name, up to and including its '>' (or the end of the input). Quotes
# count only where a value starts, after '=' (13.2.5.36-38); an unclosed quote runs to the end.
_REST = rf"""(?:[^>"'=]++|={_WS}*+(?:"[^"]*+"?+|'[^']*+'?+)?+|["'])*+>?+"""
# one attribute inside that rest: name, then an optional value, double-, single- or un-quoted
_ATTRIBUTE = re.compile(rf"""[\t\n\f\r /]*+([^\t\n\f\r />][^\t\n\f\r />=]*+)"""
                        rf"""(?:{_WS}*+={_WS}*+(?:"([^"]*+)"|'([^']*+)'|([^\t\n\f\r >]++)))?+""")
# an anchor: when href is its first attribute (the usual case) its value is captured at once
# (groups 1-3, by quote), then the rest of the tag (group 4)
_ANCHOR = re.compile(rf"""<a{_NAME_END}(?:[\t\n\f\r /]*+href{_WS}*+={_WS}*+"""
                     rf"""(?:"([^"]*+)"|'([^']*+)'|([^\t\n\f\r >]++)))?+({_REST})""", re.I)
_VALUE_GROUPS = ((1, '"'), (2, "'"), (3, ""))
MAX_ATTRIBUTES = 100  # attributes read in one tag: "<a <a <a ..." is one tag of 300,000 of them
MAX_ANCHORS = 20_000  # anchors read for links; later ones stay as written (no mail has this many)

# the text rendering, one linear pass each: what is never shown, links, block breaks, other tags
# (the lookahead after '<' is a character class of the first letters: rejecting a '<' that starts
# none of them then costs a tenth of trying each alternative in turn)
_HIDDEN = re.compile(rf"<(?=[!sStTxXiInN])(?:!--.*?(?:-->|\Z)|(script|style|title|textarea|xmp|iframe|noembed"
                     rf"|noframes){_NAME_END}{_REST}.*?(?:</\1{_NAME_END}{_REST}|\Z))", re.I | re.S)
_LINK = re.compile(rf"<a{_NAME_END}({_REST})(.*?)(?:</a{_NAME_END}{_REST}|\Z)", re.I | re.S)
_BLOCK = re.compile(rf"<(?=[/pPdDbBtTlLhHuUoO])/?(?:p|div|br|tr|li|h[1-6]|table|blockquote|ul|ol){_NAME_END}{_REST}",
                    re.I)
_TAG = re.compile(rf"<(?=[A-Za-z/!?])(?:/?[A-Za-z]{_REST}|[!?/][^>]*+>?+)")


def attributes(markup: str, start: int, end: int) -> Iterator[tuple[str, int, int, str]]:
    """``(lower-case name, value start, value end, quote)`` of the first ``MAX_ATTRIBUTES`` attributes
    in ``markup[start:end]`` (a tag's text after its name); a value-less attribute has start == end."""
    pos = start
    for _ in range(MAX_ATTRIBUTES):
        found = _ATTRIBUTE.match(markup, pos, end)
        if found is None:
            return
        for group, quote in ((2, '"'), (3, "'"), (4, "")):
            if found.start(group) >= 0:
                yield found[1].lower(), found.start(group), found.end(group), quote
                break
        else:
            yield found[1].lower(), found.end(), found.end(), ""
        pos = found.end()
        if pos >= end:
            return


def _href(markup: str, start: int, end: int) -> tuple[int, int, str] | None:
    """The first ``href`` of a tag (13.2.5.33: later duplicates are dropped), as its value's span
    and quote."""
    for name, value_start, value_end, quote in attributes(markup, start, end):
        if name == "href":
            return value_start, value_end, quote
    return None


def links(markup: str) -> Iterator[tuple[int, int, str, str]]:
    """The ``http(s)`` links of ``<a href>`` tags, in document order, as ``(start, end, url, quote)``:
    the span of the attribute value (quotes excluded), the URL a browser follows (entities decoded,
    surrounding spaces stripped) and the quote it was written with. Anchors inside comments count:
    Outlook's conditional comments (``<!--[if mso]>``) hold real links."""
    for count, found in enumerate(_ANCHOR.finditer(markup)):
        if count == MAX_ANCHORS or not found[4].endswith(">"):
            return  # the input ended inside the tag: no tag at all (13.2.5.32, EOF in tag)
        for group, quote in _VALUE_GROUPS:
            if found.start(group) >= 0:
                href = found.start(group), found.end(group), quote
                break
        else:  # href is not the first attribute, if there is one
            href = _href(markup, found.start(4), found.end(4)) if "href" in found[4].lower() else None
            if href is None:
                continue
        start, end, quote = href
        url = markup[start:end]
        url = (html_lib.unescape(url) if "&" in url else url).strip("\t\n\f\r ")
        if url[:7].lower() == "http://" or url[:8].lower() == "https://":
            yield start, end, url, quote


def _link_text(found: re.Match) -> str:
    href = _href(found.string, found.start(1), found.end(1))
    label = found[2]
    if href is None:
        return label
    url = found.string[href[0]:href[1]].strip()
    return label if not url or url.startswith(("#", "mailto:")) else f"{label} ({url})"


def text_from_html(markup: str) -> str:
    """A readable plain-text alternative of an HTML body: block elements become line breaks, links
    are kept as "text (url)", scripts, styles and comments are dropped, entities decoded."""
    text = _LINK.sub(_link_text, _HIDDEN.sub("", markup))
    text = html_lib.unescape(_TAG.sub("", _BLOCK.sub("\n", text)))
    lines: list[str] = []
    for line in text.split("\n"):  # str.split() collapses whitespace runs in C: 10x a regex here
        line = " ".join(line.split())
        if line or (lines and lines[-1]):  # at most one empty line in a row
            lines.append(line)
    return "\n".join(lines).strip() + "\n"

"""The current public warnings as an Atom feed (RFC 4287) of CAP 1.2 messages, the form alert aggregators subscribe to.

One entry per current message: its id is the feed's address with the CAP message's identifier as fragment (an alert's
update is a new message with a new identifier, so it is a new entry), its title the CAP headline, its updated the
CAP message's sent time, and its content the CAP <alert> itself (type application/cap+xml, inline XML).
"""

from collections.abc import Sequence
from datetime import datetime
from xml.etree import ElementTree as ET

from alerting.channels.cap import CAP_NS, MEDIA_TYPE as CAP_MEDIA_TYPE, cap_time

ATOM_NS = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml"
FEED_TITLE = "地质灾害预警 Geohazard warnings"
AUTHOR = "地质灾害监测预警系统 Geohazard monitoring and early warning"


def feed(*, messages: Sequence[tuple[bytes, str]], feed_url: str, page_url: str, updated: datetime) -> bytes:
    """The feed of these (CAP message, public page of its point) pairs, as of `updated`."""
    # Atom's elements are written unqualified under a default xmlns (ElementTree's default_namespace refuses the
    # unqualified attributes Atom uses); the CAP messages keep their own namespace, under a prefix.
    root = ET.Element("feed", {"xmlns": ATOM_NS})
    _add(root, "id", feed_url)
    _add(root, "title", FEED_TITLE)
    _add(root, "updated", cap_time(updated))
    _link(root, "self", feed_url, MEDIA_TYPE)
    _link(root, "alternate", page_url, "text/html")
    _add(ET.SubElement(root, "author"), "name", AUTHOR)
    for message, point_url in messages:
        root.append(_entry(message, point_url, feed_url))
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _entry(message: bytes, point_url: str, feed_url: str) -> ET.Element:
    cap = ET.fromstring(message)
    entry = ET.Element("entry")
    _add(entry, "id", f"{feed_url}#{_cap(cap, 'identifier')}")
    _add(entry, "title", _cap(cap, "info/cap:headline"))
    _add(entry, "updated", _cap(cap, "sent"))
    _link(entry, "alternate", point_url, "text/html")
    content = ET.SubElement(entry, "content", {"type": CAP_MEDIA_TYPE})
    content.append(cap)
    return entry


def _cap(cap: ET.Element, path: str) -> str:
    return cap.findtext(f"cap:{path}", namespaces={"cap": CAP_NS}) or ""


def _link(parent: ET.Element, rel: str, href: str, media_type: str) -> None:
    ET.SubElement(parent, "link", {"rel": rel, "href": href, "type": media_type})


def _add(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, tag).text = text

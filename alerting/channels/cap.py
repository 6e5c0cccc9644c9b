"""An alert as CAP 1.2 (OASIS Common Alerting Protocol) XML, for warning-dissemination systems.

One alert is one CAP message thread: its first version (msgType Alert, identifier
`geohazard-alert-<id>`) is the raise; each later change of what it says (a level change, a field verdict)
is an Update, and its resolution a Cancel, each with its own identifier and a `references` to the first.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any
from xml.etree import ElementTree as ET

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
MEDIA_TYPE = "application/cap+xml"
# China keeps one time zone; a zh-CN warning is read in Beijing time. (CAP refuses "Z" and fractions.)
BEIJING = timezone(timedelta(hours=8))

# The national four-level geohazard warning scale, read into CAP's terms:
# red (I, 警报级) means failure is imminent, act now: Immediate, Extreme (threat to life);
# orange (II, 警戒级) means failure is likely within days, prepare to evacuate: Expected, Severe;
# yellow (III, 警示级) means deformation is accelerating, failure possible within weeks: Future, Moderate;
# blue (IV, 注意级) means abnormal readings worth watching: Future, Minor.
# Certainty: orange and red need several criteria (tangent angle, velocity increase, two bins) to agree,
# so failure is Likely (> ~50 %); yellow and blue are single-criterion early signs, Possible. A field
# verdict overrides it: confirmed is Observed, a false alarm Unlikely.
URGENCY = {"red": "Immediate", "orange": "Expected", "yellow": "Future", "blue": "Future"}
SEVERITY = {"red": "Extreme", "orange": "Severe", "yellow": "Moderate", "blue": "Minor"}
CERTAINTY = {"red": "Likely", "orange": "Likely", "yellow": "Possible", "blue": "Possible"}
VERDICT_CERTAINTY = {"confirmed": "Observed", "false_alarm": "Unlikely"}
# What people at the point should do, by level (SPEC 4.4: red evacuates).
RESPONSE = {"red": "Evacuate", "orange": "Prepare", "yellow": "Monitor", "blue": "Monitor"}

LEVEL_ZH = {"red": "红色预警（I级，警报级）", "orange": "橙色预警（II级，警戒级）",
            "yellow": "黄色预警（III级，警示级）", "blue": "蓝色预警（IV级，注意级）"}
HAZARD_ZH = {"landslide": "滑坡", "collapse": "崩塌", "debris_flow": "泥石流", "ground_subsidence": "地面塌陷",
             "ground_fissure": "地裂缝", "unstable_slope": "不稳定斜坡"}
ALERT_TYPE_ZH = {"deformation": "变形", "rainfall": "降雨", "device": "监测设备"}
# The circle a dissemination system reaches (phones, sirens), by the point's scale class: roughly the
# runout of a slide or flow of that class, from hundreds of metres for small ones to kilometres for giant ones.
RADIUS_KM = {"small": 0.5, "medium": 1.0, "large": 2.0, "giant": 5.0}
DEFAULT_RADIUS_KM = 1.0
# The county's administrative division code (GB/T 2260), the geocode Chinese dissemination platforms key on.
COUNTY_GEOCODE = "GB/T 2260"
# The disaster-avoidance card's fields (SPEC 5) as the instruction lists them.
CARD_FIELDS = {"warning_signal": "预警信号", "signal_giver": "信号发布人", "evacuation_route": "撤离路线",
               "shelter": "避险场所", "contacts": "联系人"}
# The events that change what the message says; acknowledging, escalating and notifying do not.
CONTENT_EVENTS = frozenset({"raised", "level_raised", "level_lowered", "verified", "resolved"})


def cap_time(value: datetime | str) -> str:
    """A time as CAP wants it: seconds, with a numeric offset."""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.astimezone(BEIJING).replace(microsecond=0).isoformat()


def alert_to_cap(alert: Mapping[str, Any], point: Mapping[str, Any], *, sender: str) -> bytes:
    """The CAP 1.2 message of an alert's current version.

    `alert`: id, type, level, state, reasons, raised_at, updated_at, and optionally verdict and events
    (each with id, kind, at; oldest first). `point`: code, name, type, scale, lon, lat, county_code, card.
    """
    original = f"geohazard-alert-{alert['id']}"
    changes = [e for e in alert.get("events") or () if e["kind"] in CONTENT_EVENTS][1:]
    resolved = alert["state"] == "resolved"
    msg_type = "Cancel" if resolved else "Update" if changes else "Alert"
    root = ET.Element(_q("alert"))
    _add(root, "identifier", original if msg_type == "Alert" else f"{original}-{_version(alert, changes)}")
    _add(root, "sender", sender)
    _add(root, "sent", cap_time(changes[-1]["at"] if changes else alert["updated_at" if resolved else "raised_at"]))
    _add(root, "status", "Actual")
    _add(root, "msgType", msg_type)
    _add(root, "scope", "Public")
    if resolved:
        _add(root, "note", "核实为误报，预警撤销" if alert.get("verdict") == "false_alarm" else "险情解除，预警撤销")
    if msg_type != "Alert":
        _add(root, "references", f"{sender},{original},{cap_time(alert['raised_at'])}")
    root.append(_info(alert, point, resolved))
    return ET.tostring(root, encoding="utf-8", xml_declaration=True, default_namespace=CAP_NS)


def _info(alert: Mapping[str, Any], point: Mapping[str, Any], resolved: bool) -> ET.Element:
    level = alert["level"]
    hazard = HAZARD_ZH.get(point["type"], point["type"])
    info = ET.Element(_q("info"))
    _add(info, "language", "zh-CN")
    _add(info, "category", "Geo")
    _add(info, "event", f"地质灾害 {hazard} ({point['type']})")
    _add(info, "responseType", "AllClear" if resolved else RESPONSE[level])
    _add(info, "urgency", "Past" if resolved else URGENCY[level])
    _add(info, "severity", SEVERITY[level])
    _add(info, "certainty", VERDICT_CERTAINTY.get(alert.get("verdict"), CERTAINTY[level]))
    _add(info, "effective", cap_time(alert["raised_at"]))
    _add(info, "headline", f"{point['name']}{hazard}{ALERT_TYPE_ZH.get(alert['type'], '')}{LEVEL_ZH[level]}"
                           + ("解除" if resolved else ""))
    _add(info, "description", "\n".join(str(reason) for reason in alert.get("reasons") or ()) or LEVEL_ZH[level])
    instruction = card_instruction(point.get("card") or {})
    if instruction:
        _add(info, "instruction", instruction)
    for name, value in (("alertLevel", level), ("alertType", alert["type"]), ("hazardPoint", point["code"])):
        parameter = ET.SubElement(info, _q("parameter"))
        _add(parameter, "valueName", name)
        _add(parameter, "value", value)
    area = ET.SubElement(info, _q("area"))
    _add(area, "areaDesc", f"{point['name']}（{point['code']}）")
    radius_km = RADIUS_KM.get(point.get("scale"), DEFAULT_RADIUS_KM)
    _add(area, "circle", f"{point['lat']:.6f},{point['lon']:.6f} {radius_km:g}")
    geocode = ET.SubElement(area, _q("geocode"))
    _add(geocode, "valueName", COUNTY_GEOCODE)
    _add(geocode, "value", point["county_code"])
    return info


def card_instruction(card: Mapping[str, Any]) -> str:
    """The disaster-avoidance card as instruction lines, e.g. 撤离路线：沿村道向东至村委会."""
    lines = []
    for key, label in CARD_FIELDS.items():
        value = card.get(key)
        if value:
            lines.append(f"{label}：{_card_value(value)}")
    return "\n".join(lines)


def _card_value(value: Any) -> str:
    if isinstance(value, Mapping):
        return " ".join(str(v) for v in value.values() if v)
    if isinstance(value, Sequence) and not isinstance(value, str):
        return "；".join(_card_value(item) for item in value)
    return str(value)


def _version(alert: Mapping[str, Any], changes: Sequence[Mapping[str, Any]]) -> str:
    """What tells this version's identifier from the others: its last change's event id."""
    if changes:
        return str(changes[-1]["id"])
    updated = alert["updated_at"]
    updated = datetime.fromisoformat(updated) if isinstance(updated, str) else updated
    return updated.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _q(tag: str) -> str:
    return f"{{{CAP_NS}}}{tag}"


def _add(parent: ET.Element, tag: str, text: str) -> ET.Element:
    child = ET.SubElement(parent, _q(tag))
    child.text = text
    return child

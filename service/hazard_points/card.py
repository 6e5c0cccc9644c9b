"""The disaster-avoidance card (防灾避险明白卡) as a printable page, and whether a request asks for it.

The page is self-contained (no script, font or stylesheet to fetch) so it prints from a phone or a
village office PC offline; it fits A5, the size the cards are handed out in, and prints on A4 too.
Every value from the registry is HTML-escaped: cards are typed in by people.
"""

from datetime import datetime
from html import escape

from alerting.channels.cap import BEIJING, CARD_FIELDS, HAZARD_ZH
from service.hazard_points.schemas import GRID_ROLES, CardContact, HazardPointCardPublic

SCALE_ZH = {"small": "小型", "medium": "中型", "large": "大型", "giant": "特大型"}
STATUS_ZH = {"active": "在册监测", "under_treatment": "治理中", "treated": "已治理", "relocated": "已搬迁",
             "cancelled": "已销号"}
GRID_ZH = {"monitor": ("监测员", "Monitor"), "area_lead": ("片区负责人", "Area lead"),
           "resident_geologist": ("驻守地质队员", "Resident geologist"),
           "county_admin": ("区县技术管理员", "County technical admin")}
CARD_EN = {"warning_signal": "Warning signal", "signal_giver": "Signal given by",
           "evacuation_route": "Evacuation route", "shelter": "Shelter", "contacts": "Contacts"}
BLANK = '<span class="blank">（未填写） not filled in</span>'

_STYLE = """
@page { size: A5; margin: 8mm; }
* { box-sizing: border-box; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", sans-serif;
       font-size: 11pt; color: #000; margin: 0 auto; max-width: 148mm; padding: 4mm; }
h1 { font-size: 16pt; text-align: center; margin: 0 0 1mm; }
p.subtitle { text-align: center; margin: 0 0 3mm; font-size: 9pt; }
table { width: 100%; border-collapse: collapse; margin-bottom: 3mm; page-break-inside: avoid; }
th, td { border: 1px solid #000; padding: 1.5mm 2mm; vertical-align: top; text-align: left; }
th { width: 32%; font-weight: bold; background: #eee; }
th small, td small { display: block; font-weight: normal; font-size: 8pt; color: #333; }
.important th { background: #fdd; }
.blank { color: #666; }
footer { font-size: 8pt; text-align: right; }
@media print { body { padding: 0; } th { -webkit-print-color-adjust: exact; print-color-adjust: exact; } }
"""


def prefers_html(accept: str | None) -> bool:
    """True when the Accept header ranks text/html above application/json; JSON wins a tie and a missing header."""
    if not accept:
        return False
    return _quality(accept, "text/html") > _quality(accept, "application/json")


def _quality(accept: str, media_type: str) -> float:
    """The q the most specific matching range of the Accept header gives `media_type` (RFC 9110 12.5.1); 0 if none."""
    main, _, _ = media_type.partition("/")
    best_specificity, best_q = -1, 0.0
    for media_range in accept.split(","):
        name, *params = (part.strip() for part in media_range.split(";"))
        name = name.lower()
        specificity = {media_type: 2, f"{main}/*": 1, "*/*": 0}.get(name)
        if specificity is None or specificity <= best_specificity:
            continue
        best_specificity, best_q = specificity, _q_value(params)
    return best_q


def _q_value(params: list[str]) -> float:
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "q":
            try:
                return min(max(float(value), 0.0), 1.0)
            except ValueError:
                return 0.0  # a malformed weight accepts nothing rather than everything
    return 1.0


def render_card_html(card: HazardPointCardPublic) -> str:
    """The card as one printable HTML page in Chinese, with English beside each label."""
    location = card.location
    divisions = " · ".join(f"{label} {code}" for label, code in (
        ("区县 County", location.county_code), ("乡镇 Township", location.township_code),
        ("村 Village", location.village_code)) if code)
    point_rows = [
        _row("灾害点名称", "Hazard point", _text(card.name)),
        _row("灾害点编号", "Code", _text(card.code)),
        _row("灾害类型", "Type", _text(f"{HAZARD_ZH.get(card.type, card.type)} ({card.type})")),
        _row("规模", "Scale", _text(f"{SCALE_ZH.get(card.scale, card.scale)} ({card.scale})")),
        _row("位置", "Location", _text(divisions) + f"<small>{_text(_lon_lat(location.lon, location.lat))}</small>"),
        _row("威胁户数 / 人数", "Households / people threatened",
             _text(f"{card.threatened_households} 户 households / {card.threatened_people} 人 people")),
        _row("状态", "Status", _text(f"{STATUS_ZH.get(card.status, card.status)} ({card.status})")),
    ]
    warning_rows = [
        _row(CARD_FIELDS[field], CARD_EN[field], _text_or_blank(getattr(card, field)))
        for field in ("warning_signal", "signal_giver", "evacuation_route", "shelter")
    ]
    contact_rows = [_contact_row(contact) for contact in card.contacts] or [
        f'<tr><td colspan="3">{BLANK}</td></tr>'
    ]
    grid_rows = [
        _row(*GRID_ZH[role], _text_or_blank(member and member.name) + _phone(member and member.phone))
        for role, member in ((role, card.grid.get(role)) for role in GRID_ROLES)
    ]
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_text(card.name)} 防灾避险明白卡 Disaster-avoidance card</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>地质灾害防灾避险明白卡</h1>
<p class="subtitle">Geological-hazard disaster-avoidance card · {_text(card.code)}</p>
<table>
{chr(10).join(point_rows)}
</table>
<table class="important">
{chr(10).join(warning_rows)}
</table>
<table>
<tr><th colspan="3">{CARD_FIELDS["contacts"]}<small>{CARD_EN["contacts"]}</small></th></tr>
<tr><th>姓名<small>Name</small></th><th>职务<small>Role</small></th><th>电话<small>Phone</small></th></tr>
{chr(10).join(contact_rows)}
</table>
<table>
<tr><th colspan="2">群测群防网格<small>Monitoring grid</small></th></tr>
{chr(10).join(grid_rows)}
</table>
<footer>更新时间 Updated {_text(_beijing(card.updated_at))}</footer>
</body>
</html>
"""


def _text(value: object) -> str:
    return escape(str(value), quote=True)


def _text_or_blank(value: str | None) -> str:
    return _text(value) if value else BLANK


def _row(label_zh: str, label_en: str, value_html: str) -> str:
    return f"<tr><th>{label_zh}<small>{label_en}</small></th><td>{value_html}</td></tr>"


def _phone(phone: str | None) -> str:
    """A grid member's phone below their name."""
    return f"<small>{_tel(phone)}</small>" if phone else ""


def _tel(phone: str) -> str:
    """A phone as a link a phone can dial."""
    dial = "".join(ch for ch in phone if ch.isdigit() or ch == "+")
    return f'<a href="tel:{_text(dial)}">{_text(phone)}</a>'


def _contact_row(contact: CardContact) -> str:
    cells = (_text(contact.name), _text_or_blank(contact.role), _tel(contact.phone))
    return "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


def _lon_lat(lon: float, lat: float) -> str:
    return f"{abs(lon):.5f}°{'E' if lon >= 0 else 'W'}, {abs(lat):.5f}°{'N' if lat >= 0 else 'S'}"


def _beijing(when: datetime) -> str:
    return when.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") + " (UTC+8)"

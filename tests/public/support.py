"""Helpers the public page tests share: points with cards and a grid monitor, at a distance from the phone."""

from psycopg.types.json import Jsonb

from tests.console.support import make_point
from tests.public.conftest import HOME

MONITOR_PHONE = "13912345678"
CARD = {"warning_signal": "鸣锣三声", "signal_giver": "村主任 李四", "evacuation_route": "沿村道向东撤离",
        "shelter": "村委会广场", "contacts": [{"name": "李四", "phone": "13800001111", "role": "村主任"}]}


def point_at(db, code: str, *, north_km: float, status: str = "active", card: dict | None = None,
             village: str = "500113001001") -> str:
    """A point `north_km` north of the phone (negative: south), with a card and a grid monitor who has a phone."""
    lat = HOME["latitude"] + north_km * 1000 / 111_195  # the haversine's metres per degree at the Earth's mean radius
    make_point(db, code, name=f"{code} 滑坡", lon=HOME["longitude"], lat=lat)
    db.execute("UPDATE hazard_point SET status = %s, card = %s, village_code = %s, township_code = left(%s, 9)"
               " WHERE code = %s", (status, Jsonb(card or CARD), village, village, code))
    person = db.execute("INSERT INTO person (name, phone, roles) VALUES (%s, %s, '{monitor}') RETURNING id",
                        (f"监测员 {code}", MONITOR_PHONE)).fetchone()[0]
    db.execute("INSERT INTO grid_assignment (hazard_point, role, person_id) VALUES (%s, 'monitor', %s)",
               (code, person))
    return code


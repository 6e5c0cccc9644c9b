"""What the phone app's tests share: a monitor with a point, a marked crack and a task; activation codes; photos."""

import asyncio
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor

import asyncpg
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from service.field import phones
from tests.console.support import make_point

POINT = "500113-HP-0042"
OTHER = "500113-HP-0001"
# The point's position, and where the phone is when it reports from the slope.
HOME = {"latitude": 29.40, "longitude": 106.52}
# About 3 km north of the point: a report made there is flagged far from the point.
FAR = {"latitude": 29.427, "longitude": 106.52}


def make_monitor(db, *, name: str = "村监测员 李明", point: str = POINT, crack: bool = True,
                 task: bool = True) -> dict:
    """A monitor on the grid of `point` (made here, at HOME), with a marked crack M1 and an open routine task."""
    make_point(db, point, lon=HOME["longitude"], lat=HOME["latitude"])
    person = db.execute("INSERT INTO person (name, phone, roles) VALUES (%s, '13900000001', '{monitor}') RETURNING id",
                        (name,)).fetchone()[0]
    db.execute("INSERT INTO grid_assignment (hazard_point, role, person_id) VALUES (%s, 'monitor', %s)",
               (point, person))
    if crack:
        db.execute("INSERT INTO device (id, hazard_point, protocol) VALUES ('MAN-0042', %s, 'manual')", (point,))
        db.execute("INSERT INTO sensor (device_id, code, kind, hazard_point) VALUES ('MAN-0042', 'M1', 'crack', %s)",
                   (point,))
    task_id = None
    if task:
        task_id = db.execute("INSERT INTO patrol_task (hazard_point, regime, assignee_id, due_at)"
                             " VALUES (%s, 'routine', %s, now() + interval '1 day') RETURNING id",
                             (point, person)).fetchone()[0]
    return {"person_id": person, "name": name, "point": point, "task_id": task_id}


def run_async(database_url: str, work):
    """`await work(conn)` on a connection of its own, in a thread: Playwright's sync API holds this thread's loop."""
    async def main():
        conn = await asyncpg.connect(database_url)
        try:
            return await work(conn)
        finally:
            await conn.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()


def issue_code(database_url: str, person_id: int) -> phones.IssuedCode:
    return run_async(database_url, lambda conn: phones.issue_code(conn, person_id=person_id, issued_by="admin"))


def activate_session(database_url: str, person_id: int) -> str:
    """A phone's session id for this person, as activating a fresh code gives it."""
    async def work(conn):
        issued = await phones.issue_code(conn, person_id=person_id, issued_by="admin")
        return await phones.activate(conn, code=issued.code, label="test phone", address="127.0.0.1")

    return run_async(database_url, work)


def activate(page, base_url: str, code: str) -> None:
    """Open the activation link on the phone, press the button, and wait for the home page."""
    page.goto(f"{base_url}/field/activate?code={code}")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/field/")


def wait_until_offline_ready(page) -> None:
    """Until the service worker controls the page and the home page has saved every point's pages."""
    try:
        page.wait_for_function("navigator.serviceWorker.controller !== null")
    except PlaywrightTimeout:
        state = page.evaluate("navigator.serviceWorker.getRegistration().then(r => r ? [r.installing && "
                              "r.installing.state, r.waiting && r.waiting.state, r.active && r.active.state] : null)")
        raise AssertionError(f"no service worker controls the page; its registration: {state}") from None
    page.wait_for_selector("#offline-ready[data-state=ready]")


def png(width: int, height: int) -> bytes:
    """A real PNG picture, as big as a phone camera's."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes((x * 7 + y) % 256 for x in range(width)) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a JPEG, from its start-of-frame segment."""
    assert data[:2] == b"\xff\xd8", "not a JPEG"
    at = 2
    while at < len(data):
        marker, length = data[at + 1], struct.unpack(">H", data[at + 2:at + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[at + 5:at + 9])
            return width, height
        at += 2 + length
    raise AssertionError("no start-of-frame segment")

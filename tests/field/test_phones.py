"""Activation codes and phones (service.field.phones): a code binds one phone once; wrong codes back off."""

import asyncio

import asyncpg
import pytest

from service.field import phones
from tests.console.support import make_point


def _monitor(db, name="村监测员 李", points=("500113-HP-0042",)) -> int:
    for code in points:
        make_point(db, code)
    person = db.execute("INSERT INTO person (name, phone, roles) VALUES (%s, '13900000001', '{monitor}')"
                        " RETURNING id", (name,)).fetchone()[0]
    for code in points:
        db.execute("INSERT INTO grid_assignment (hazard_point, role, person_id) VALUES (%s, 'monitor', %s)",
                   (code, person))
    return person


def _run(database_url, work):
    async def main():
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
        try:
            return await work(pool)
        finally:
            await pool.close()
    return asyncio.run(main())


def test_a_code_binds_one_phone_once_and_the_phone_acts_as_its_grid_monitor(db, database_url):
    person = _monitor(db)

    async def work(pool):
        async with pool.acquire() as conn:
            issued = await phones.issue_code(conn, person_id=person, issued_by="admin")
            typed = issued.display.lower().replace("-", " ")
            first = await phones.activate(conn, code=typed, label="Android 10", address="10.0.0.5")
            with pytest.raises(phones.CodeRefused):
                await phones.activate(conn, code=issued.code, label="another phone", address="10.0.0.6")
        return await phones.phone_user(pool, first)

    user = _run(database_url, work)
    assert user.person_id == person and user.caller.role == "grid_monitor" and user.caller.person_id == person


def test_a_revoked_phone_has_no_session_and_a_withdrawn_code_binds_nothing(db, database_url):
    person = _monitor(db)

    async def work(pool):
        async with pool.acquire() as conn:
            session = await phones.activate(
                conn, code=(await phones.issue_code(conn, person_id=person, issued_by="admin")).code,
                label="phone", address="a")
            phone_id = (await phones.phone_user(pool, session)).phone_id
            assert await phones.revoke_phone(conn, phone_id=phone_id, revoked_by="admin")
            withdrawn = await phones.issue_code(conn, person_id=person, issued_by="admin")
            assert await phones.withdraw_code(conn, activation_id=withdrawn.id)
            with pytest.raises(phones.CodeRefused):
                await phones.activate(conn, code=withdrawn.code, label="phone", address="a")
        return await phones.phone_user(pool, session)

    assert _run(database_url, work) is None


def test_no_code_for_someone_who_watches_no_point(db, database_url):
    officer = db.execute("INSERT INTO person (name, roles) VALUES ('值班员', '{duty_officer}') RETURNING id").fetchone()[0]

    async def work(pool):
        async with pool.acquire() as conn:
            await phones.issue_code(conn, person_id=officer, issued_by="admin")

    with pytest.raises(phones.NotEligible):
        _run(database_url, work)


def test_wrong_codes_back_off_their_address_only(db, database_url):
    person = _monitor(db)

    async def work(pool):
        async with pool.acquire() as conn:
            for _ in range(phones.FREE_ATTEMPTS):
                with pytest.raises(phones.CodeRefused):
                    await phones.activate(conn, code="AAAA-AAAA", label="x", address="guesser")
            with pytest.raises(phones.CodeLocked):
                await phones.activate(conn, code="AAAA-AAAA", label="x", address="guesser")
            issued = await phones.issue_code(conn, person_id=person, issued_by="admin")
            with pytest.raises(phones.CodeLocked):  # even the right code waits, from the guessing address
                await phones.activate(conn, code=issued.code, label="x", address="guesser")
            return await phones.activate(conn, code=issued.code, label="x", address="the monitor")

    assert _run(database_url, work)


def test_wrong_codes_a_day_old_are_forgotten(db, database_url):
    _monitor(db)
    db.execute("INSERT INTO field_activation_failure (address, failed_attempts, last_failed_at)"
               " VALUES ('village office', 50, now() - interval '2 days')")

    async def work(pool):
        async with pool.acquire() as conn:
            with pytest.raises(phones.CodeRefused):  # not CodeLocked: yesterday's guesses count no more
                await phones.activate(conn, code="AAAA-AAAA", label="x", address="village office")

    _run(database_url, work)
    assert db.execute("SELECT failed_attempts FROM field_activation_failure").fetchone()[0] == 1

"""Migration 0016: the dead letters stored before it get their whole size and SHA-256, and are cut like new ones."""

import hashlib
import random

import psycopg

from sql import migrate as migrate_module
from sql.migrate import available_migrations, migrate


def test_dead_letters_stored_before_0016_are_sized_hashed_and_cut(empty_database_url, monkeypatch):
    with monkeypatch.context() as patched:
        patched.setattr(migrate_module, "available_migrations",
                        lambda: [m for m in available_migrations() if m.version < 16])
        migrate(empty_database_url)
    long, short = random.Random(1).randbytes(5_000_000), b"\x02\x00\x05{not json"
    with psycopg.connect(empty_database_url) as conn:
        for payload in (long, short):
            conn.execute("INSERT INTO dead_letter (topic, payload, reason) VALUES ('t', %s, 'r')", (payload,))

    migrate(empty_database_url)

    with psycopg.connect(empty_database_url) as conn:
        rows = conn.execute("SELECT payload, payload_bytes, payload_sha256 FROM dead_letter ORDER BY id").fetchall()
    assert [(bytes(p), n, bytes(h)) for p, n, h in rows] == [
        (long[:65_538], len(long), hashlib.sha256(long).digest()),
        (short, len(short), hashlib.sha256(short).digest()),
    ]

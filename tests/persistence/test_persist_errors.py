"""Bad input gives a clear StoreError subclass, never a silent loss or a half-written file."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import tempfile

import pytest

from minimq import Broker, Properties
from minimq.persistence import (ForeignDatabaseError, SchemaVersionError, SQLiteStore, StoreCorruptError,
                                StoreEncodeError, StoreError, StoreFullError, StoreLockedError, StoreOpenError,
                                StoreReadOnlyError)
from minimq.persistence import sqlite as sqlite_store

P2 = Properties(delivery_mode=2)


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def make_store(db, **options):
    broker = Broker(store=SQLiteStore(db, synchronous="NORMAL", **options))
    return broker


def test_every_error_is_a_store_error():
    for cls in (ForeignDatabaseError, SchemaVersionError, StoreCorruptError, StoreEncodeError, StoreFullError,
                StoreLockedError, StoreOpenError, StoreReadOnlyError):
        assert issubclass(cls, StoreError)
    assert issubclass(StoreEncodeError, TypeError)


def test_options_are_validated():
    with pytest.raises(ValueError, match=r"^synchronous must be 'FULL' or 'NORMAL', got 'OFF'$"):
        SQLiteStore(":unused:", synchronous="OFF")
    with pytest.raises(ValueError, match=r"^commit_interval must be > 0, got 0$"):
        SQLiteStore(":unused:", commit_interval=0)


def test_garbage_file_is_refused_and_untouched(db):
    with open(db, "wb") as f:
        f.write(os.urandom(3000))
    before = digest(db)
    with pytest.raises(StoreCorruptError, match=r"not an SQLite database") as info:
        make_store(db)
    assert info.value.path == db
    assert digest(db) == before and not os.path.exists(db + "-wal")


def test_garbage_after_a_valid_header_is_refused(db):
    with open(db, "wb") as f:
        f.write(b"SQLite format 3\x00" + os.urandom(5000))
    with pytest.raises(StoreCorruptError):
        make_store(db)


def test_an_empty_file_is_a_new_store(db):
    open(db, "wb").close()
    broker = make_store(db)
    broker.channel().queue_declare("q", durable=True)
    broker.close()
    assert make_store(db).get_queue("q") is not None


def test_another_applications_sqlite_file_is_refused_and_untouched(db):
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO users (name) VALUES ('ada')")
    conn.commit()
    conn.close()
    before = digest(db)
    with pytest.raises(ForeignDatabaseError, match=r"an SQLite database minimq did not write \(tables: users\)"):
        make_store(db)
    assert digest(db) == before


def test_a_meta_table_of_another_application_is_refused(db):
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value)")
    conn.execute("INSERT INTO meta VALUES ('application', 'other')")
    conn.commit()
    conn.close()
    with pytest.raises(ForeignDatabaseError, match=r"its meta table is not minimq's \(application='other'\)"):
        make_store(db)


def _set_schema_version(db, version):
    conn = sqlite3.connect(db)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (version,))
    conn.commit()
    conn.close()


def test_a_file_from_a_newer_minimq_is_refused(db):
    make_store(db).close()
    _set_schema_version(db, sqlite_store.SCHEMA_VERSION + 1)
    before = digest(db)
    with pytest.raises(SchemaVersionError, match=rf"schema version {sqlite_store.SCHEMA_VERSION + 1} was written by "
                                                 rf"a newer minimq; this one reads up to version "
                                                 rf"{sqlite_store.SCHEMA_VERSION}"):
        make_store(db)
    assert digest(db) == before


def test_an_older_schema_migrates_forward_in_one_transaction(db, monkeypatch):
    broker = make_store(db)
    broker.channel().queue_declare("q", durable=True)
    broker.channel().basic_publish("", "q", b"kept", P2)
    broker.close()
    current = sqlite_store.SCHEMA_VERSION
    steps = []

    def add_notes(conn):
        steps.append(current)
        conn.execute("CREATE TABLE notes (text TEXT)")

    monkeypatch.setattr(sqlite_store, "SCHEMA_VERSION", current + 1)
    monkeypatch.setattr(sqlite_store, "MIGRATIONS", {current: add_notes})
    broker = make_store(db)
    assert steps == [current]
    assert [m.body for m in broker.get_queue("q").ready_messages()] == [b"kept"]
    broker.close()
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (current + 1,)
    assert conn.execute("SELECT count(*) FROM notes").fetchone() == (0,)
    conn.close()


def test_a_missing_migration_is_refused(db, monkeypatch):
    make_store(db).close()
    monkeypatch.setattr(sqlite_store, "SCHEMA_VERSION", sqlite_store.SCHEMA_VERSION + 1)
    monkeypatch.setattr(sqlite_store, "MIGRATIONS", {})
    with pytest.raises(SchemaVersionError, match=r"no migration from schema version"):
        make_store(db)


def test_a_missing_directory_is_refused(tmp_path):
    path = str(tmp_path / "nowhere" / "b.db")
    with pytest.raises(StoreOpenError, match=r"directory '.*nowhere' does not exist"):
        SQLiteStore(path)


def test_a_second_broker_on_the_same_file_is_refused(db):
    first = make_store(db)
    with pytest.raises(StoreLockedError, match=r"another broker has this file open"):
        make_store(db)
    first.channel().queue_declare("q", durable=True)
    first.close()
    make_store(db).close()  # free again once the first one closed


def _open_as_nobody(path):
    """Open a store in a forked child running as an unprivileged user; returns the error class name."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            os.close(read_fd)
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            try:
                SQLiteStore(path).close()
                result = "opened"
            except Exception as error:  # noqa: BLE001
                result = f"{type(error).__name__}: {error}"
            os.write(write_fd, result.encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as f:
        result = f.read().decode()
    os.waitpid(pid, 0)
    return result


@pytest.fixture
def public_dir():
    """A directory an unprivileged user can reach (pytest's tmp_path is private to root)."""
    path = tempfile.mkdtemp(prefix="minimq-ro-", dir="/tmp")
    os.chmod(path, 0o755)
    yield path
    os.chmod(path, 0o755)
    shutil.rmtree(path, ignore_errors=True)


def test_a_read_only_directory_is_refused(public_dir):
    os.chmod(public_dir, 0o555)
    result = _open_as_nobody(os.path.join(public_dir, "b.db"))
    assert result.startswith("StoreReadOnlyError: cannot open store"), result
    assert "is read-only" in result
    assert os.listdir(public_dir) == []


def test_a_read_only_file_is_refused(public_dir):
    path = os.path.join(public_dir, "b.db")
    make_store(path).close()
    os.chmod(path, 0o444)
    os.chmod(public_dir, 0o777)
    before = digest(path)
    result = _open_as_nobody(path)
    assert result.startswith("StoreReadOnlyError: cannot open store"), result
    assert digest(path) == before


def test_disk_full_fails_the_confirm_and_loses_nothing_confirmed(db):
    broker = make_store(db, max_bytes=256 * 1024)
    ch = broker.channel()
    ch.queue_declare("q", durable=True)
    ch.confirm_select()
    confirmed = []
    with pytest.raises(StoreFullError, match=r"database or disk is full \(disk or max_bytes full; the batch was "
                                             r"rolled back and will be retried\)"):
        for i in range(100_000):
            ch.basic_publish("", "q", b"%06d" % i + b"x" * 1000, P2)
            confirmed.append(i)
    assert confirmed, "nothing fit at all"
    # the broker keeps working in memory, and says so on every confirm
    with pytest.raises(StoreFullError):
        ch.basic_publish("", "q", b"more", P2)
    with pytest.raises(StoreFullError):
        broker.close()
    # with room again, the file holds every confirmed message, in order, and nothing half-written
    broker = make_store(db)
    got = [int(m.body[:6]) for m in broker.get_queue("q").ready_messages()]
    assert got[:len(confirmed)] == confirmed
    assert got == list(range(len(got)))
    assert len(got) <= len(confirmed) + 1
    broker.close()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()


def test_a_full_disk_recovers_when_space_is_freed(db):
    broker = make_store(db, max_bytes=192 * 1024)
    store = broker.store
    ch = broker.channel()
    ch.queue_declare("q", durable=True)
    n = 0
    with pytest.raises(StoreFullError):
        while True:
            ch.basic_publish("", "q", b"x" * 1000, P2)
            store.flush()
            n += 1
    ch.queue_purge("q")   # frees the room: the retried batch and the purge commit together
    store.flush()
    ch.basic_publish("", "q", b"after", P2)
    broker.close()
    broker = make_store(db)
    assert [m.body for m in broker.get_queue("q").ready_messages()] == [b"after"]
    broker.close()


def test_an_unstorable_header_fails_the_publish_with_a_clear_error(reopen):
    broker = reopen()
    ch = broker.channel()
    ch.queue_declare("q", durable=True)
    with pytest.raises(StoreEncodeError, match=r"cannot store a message published to '' with routing key 'q': "
                                               r"cannot store a value of type object"):
        ch.basic_publish("", "q", b"m", Properties(delivery_mode=2, headers={"bad": object()}))
    with pytest.raises(StoreEncodeError, match=r"integer 18446744073709551616 does not fit in 64 bits"):
        ch.basic_publish("", "q", b"m", Properties(delivery_mode=2, headers={"big": 2**64}))
    ch.basic_publish("", "q", b"ok", P2)
    ch.basic_publish("", "q", b"transient", Properties(headers={"bad": object()}))  # never stored: fine
    broker = reopen.restart(broker)
    assert [m.body for m in broker.get_queue("q").ready_messages()] == [b"ok"]


def test_a_corrupt_record_is_reported_with_its_queue_and_position(db):
    broker = make_store(db)
    ch = broker.channel()
    ch.queue_declare("q", durable=True)
    ch.basic_publish("", "q", b"m", P2)
    broker.close()
    conn = sqlite3.connect(db)
    conn.execute("UPDATE messages SET record = x'c1c1c1'")
    conn.commit()
    conn.close()
    with pytest.raises(StoreCorruptError, match=r"message 1 of queue 'q' in vhost '/' does not decode"):
        make_store(db)


def test_a_store_whose_state_cannot_be_rebuilt_is_released(db):
    broker = make_store(db)
    broker.channel().exchange_declare("x", "fanout", durable=True)
    broker.close()
    conn = sqlite3.connect(db)
    record = conn.execute("SELECT record FROM exchanges WHERE name = 'x'").fetchone()[0]
    conn.execute("UPDATE exchanges SET record = ? WHERE name = 'x'", (record.replace(b"fanout", b"plugin"),))
    conn.commit()
    conn.close()
    from minimq.recovery import RecoveryError
    with pytest.raises(RecoveryError, match=r"^cannot recover exchange 'x' in vhost '/': unknown exchange type "
                                            r"'plugin'$"):
        make_store(db)
    with pytest.raises(RecoveryError):  # not StoreLockedError: the failed broker let go of the file
        make_store(db)

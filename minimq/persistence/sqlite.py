"""SQLiteStore: the broker's durable state in one SQLite file (stdlib ``sqlite3``, msgpack records).

Tables (schema version 1; ``meta`` holds ``application='minimq'``, ``schema_version`` and ``clean``)::

    vhosts    (name PRIMARY KEY)
    exchanges (vhost, name, record)                PRIMARY KEY (vhost, name); record = [type, auto_delete,
                                                   internal, arguments]
    queues    (id INTEGER PRIMARY KEY, vhost, name, record)   UNIQUE (vhost, name); record = [auto_delete,
                                                   arguments]
    bindings  (vhost, source, destination, dest_is_queue, routing_key, arguments)   all six UNIQUE
    messages  (id INTEGER PRIMARY KEY, flags, expires, record)
              id      = queue id << 40 | seq: one B-tree, in queue then position order, so recovering
                        a queue is one range scan and deleting a queue is one range delete
              flags   = redelivered | delivery_count << 1     (changes without re-encoding the record)
              expires = wall-clock epoch ms of the deadline, or NULL
              record  = [exchange, routing_key, body, properties (the 14, in AMQP order) or nil, ttl]

Records are msgpack arrays whose fields are append-only: a new field goes at the end with a default,
and a reader pads a short record with the defaults, so old rows stay readable without migration.
Header values msgpack cannot carry are extension types: 1 = ``Decimal`` (its exact text), 2 =
``datetime`` (ISO 8601, naive or with its offset).  Tables change only through ``MIGRATIONS``
(version n -> n+1, applied in one transaction at open); a file from a newer minimq is refused.

Write path (group commit).  The broker reports changes under its lock; this store only records
them in an in-memory batch (a dict of pending inserts by id, a list of deletes, a dict of flag
updates, a list of topology statements).  A message published and acked before the batch is
written costs nothing on disk.  A batch is cut (under the broker lock, so one broker operation
never straddles two commits) and written in one transaction by whichever thread needs it first:

* ``flush()`` (a publisher waiting for its confirm; ``tx.commit``): one waiting thread leads the
  commit, the others wait; the leader cuts everything recorded so far, so every thread that
  published while the previous commit ran is covered by the next one.  When a commit ends, all its
  waiters wake at once, and the next leader gives the threads of the last group a moment (at most
  half a commit's duration) to publish again and join it: N threads waiting for confirms share one
  fsync instead of alternating between full and near-empty commits;
* the committer thread, ``commit_interval`` seconds after the first change of a batch (sooner when
  the batch reaches ``max_batch`` changes): acks and unconfirmed publishes; and at once when an
  asynchronous confirm is waiting (:meth:`SQLiteStore.when_durable`): a publisher streaming with
  asynchronous confirms keeps the committer busy, each commit taking everything published while
  the previous one ran, and its callbacks run on the committer thread when the commit ends.

Durability (``synchronous``).  The file is in WAL mode and held with an exclusive lock (a second
broker on the same file gets :class:`StoreLockedError`).

* ``"FULL"`` (default): every commit fsyncs the log before it returns.  A confirmed message survives
  a process crash, an OS crash and a power loss.
* ``"NORMAL"``: commits are written to the OS but fsynced only at checkpoints.  A confirmed message
  survives a process crash (SIGKILL); an OS crash or power loss may roll back the last commits (the
  file stays consistent, never corrupt).  Several times faster on disks with slow fsync.

Space.  Deleted rows go to SQLite's free list and are reused by later inserts, so the database
stays at the size of the most data it held; with ``auto_vacuum=INCREMENTAL`` the store also returns
free pages to the OS when more than half of the file is free (checked every 16 commits, at most
8192 pages at a time) and all of them at close.  The log (WAL) is checkpointed every 1000 pages
(4 MiB) and truncated to 8 MiB, so on disk the store takes its data plus a few MiB of log.

Errors are translated once, in :func:`_translate`: a failed commit is rolled back whole, kept, and
retried (together with newer changes) by the next commit; the thread that asked for it gets the
:class:`~minimq.persistence.StoreError`.
"""

from __future__ import annotations

import datetime
import decimal
import logging
import operator
import os
import sqlite3
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import msgpack

from ..message import PROPERTY_NAMES, Message, Properties
from ..store import BindingRecord, ExchangeRecord, QueueRecord, RecoveredMessage, RecoveredState
from . import (ForeignDatabaseError, SchemaVersionError, StoreClosedError, StoreCorruptError, StoreEncodeError,
               StoreError, StoreFullError, StoreIOError, StoreLockedError, StoreOpenError, StoreReadOnlyError)

__all__ = ["SQLiteStore", "StoreStatistics", "SCHEMA_VERSION", "MIGRATIONS"]

log = logging.getLogger("minimq.persistence")

APPLICATION = "minimq"
SCHEMA_VERSION = 1
#: from-version -> function(connection) bringing the schema to from-version + 1 (inside a transaction)
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {}

_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID",
    "CREATE TABLE vhosts (name TEXT PRIMARY KEY)",
    "CREATE TABLE exchanges (vhost TEXT NOT NULL, name TEXT NOT NULL, record BLOB NOT NULL, "
    "PRIMARY KEY (vhost, name))",
    "CREATE TABLE queues (id INTEGER PRIMARY KEY, vhost TEXT NOT NULL, name TEXT NOT NULL, "
    "record BLOB NOT NULL, UNIQUE (vhost, name))",
    "CREATE TABLE bindings (vhost TEXT NOT NULL, source TEXT NOT NULL, destination TEXT NOT NULL, "
    "dest_is_queue INTEGER NOT NULL, routing_key TEXT NOT NULL, arguments BLOB NOT NULL, "
    "UNIQUE (vhost, source, destination, dest_is_queue, routing_key, arguments))",
    "CREATE TABLE messages (id INTEGER PRIMARY KEY, flags INTEGER NOT NULL, expires INTEGER, "
    "record BLOB NOT NULL)",
)

_SEQ_BITS = 40
_SEQ_MASK = (1 << _SEQ_BITS) - 1

_INSERT = "INSERT INTO messages (id, flags, expires, record) VALUES (?, ?, ?, ?)"
_DELETE = "DELETE FROM messages WHERE id = ?"
_UPDATE = "UPDATE messages SET flags = ? WHERE id = ?"

_SQLITE_HEADER = b"SQLite format 3\x00"
# primary result codes (https://sqlite.org/rescode.html)
_PERM, _BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 3, 5, 6, 8, 10, 11, 13, 14, 26

_get_properties = operator.attrgetter(*PROPERTY_NAMES)
_N_PROPS = len(PROPERTY_NAMES)


# -- encoding -----------------------------------------------------------------------------------
_EXT_DECIMAL = 1
_EXT_DATETIME = 2


def _default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return msgpack.ExtType(_EXT_DECIMAL, str(value).encode())
    if isinstance(value, datetime.datetime):
        return msgpack.ExtType(_EXT_DATETIME, value.isoformat().encode())
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, int):
        raise TypeError(f"integer {value} does not fit in 64 bits (nor does it in an AMQP table)")
    raise TypeError(f"cannot store a value of type {type(value).__name__}: {value!r}")


def _ext_hook(code: int, data: bytes) -> Any:
    if code == _EXT_DECIMAL:
        return decimal.Decimal(data.decode())
    if code == _EXT_DATETIME:
        return datetime.datetime.fromisoformat(data.decode())
    raise ValueError(f"unknown msgpack extension type {code}")


def _unpack(blob: bytes) -> Any:
    return msgpack.unpackb(blob, ext_hook=_ext_hook, raw=False, strict_map_key=False)


def _fields(record: list, defaults: tuple) -> list:
    """Pad an append-only record with the defaults of the fields it predates."""
    n = len(record)
    return record if n >= len(defaults) else record + list(defaults[n:])


_MESSAGE_DEFAULTS = ("", "", b"", None, None)
_EXCHANGE_DEFAULTS = ("direct", False, False, {})
_QUEUE_DEFAULTS = (False, {})


def _decode_message(blob: bytes) -> Message:
    exchange, routing_key, body, props, ttl = _fields(_unpack(blob), _MESSAGE_DEFAULTS)[:5]
    properties = None
    if props is not None:
        if len(props) < _N_PROPS:
            props = props + [None] * (_N_PROPS - len(props))
        properties = Properties(*props[:_N_PROPS])
    return Message(body, properties, exchange, routing_key, ttl)


# -- errors -------------------------------------------------------------------------------------
def _translate(error: BaseException, path: str, doing: str) -> StoreError:
    """The one place SQLite errors become StoreErrors (the text names the file and the operation)."""
    if isinstance(error, StoreError):
        return error
    code = getattr(error, "sqlite_errorcode", None)
    primary = None if code is None else code & 0xFF
    text = f"{doing} '{path}': {error}"
    if primary == _FULL:
        return StoreFullError(f"{text} (disk or max_bytes full; the batch was rolled back and will be retried)",
                              path)
    if primary in (_NOTADB, _CORRUPT):
        return StoreCorruptError(text, path)
    if primary in (_BUSY, _LOCKED):
        return StoreLockedError(f"{text} (another broker has this file open)", path)
    if primary in (_READONLY, _PERM):
        return StoreReadOnlyError(text, path)
    if primary == _CANTOPEN:
        return StoreOpenError(text, path)
    return StoreIOError(text, path)


@dataclass(frozen=True)
class StoreStatistics:
    """A snapshot of the store's counters (see :meth:`SQLiteStore.statistics`)."""

    #: transactions committed
    commits: int
    #: changes (rows or statements) written by those commits
    written: int
    #: changes recorded but not committed yet
    pending: int
    #: size on disk: the database file plus its write-ahead log, in bytes
    file_bytes: int
    #: the database's size (its pages, wherever they are: file or log), in bytes
    database_bytes: int
    #: the part of it holding data (not on SQLite's free list, which later inserts reuse first)
    used_bytes: int


class _Batch:
    """Changes to write in one transaction: topology statements (in order), then message deletes,
    inserts and flag updates.  ``dropped`` lists the id ranges of queues deleted by ``ops``."""

    __slots__ = ("gen", "ops", "deletes", "inserts", "updates", "dropped")

    def __init__(self, gen: int, ops: list, deletes: list, inserts: dict, updates: dict, dropped: list) -> None:
        self.gen = gen
        self.ops = ops
        self.deletes = deletes
        self.inserts = inserts
        self.updates = updates
        self.dropped = dropped

    def size(self) -> int:
        return len(self.ops) + len(self.deletes) + len(self.inserts) + len(self.updates)

    def absorb(self, newer: _Batch) -> _Batch:
        """Fold a newer batch into this one (a failed commit being retried), as if recorded together.

        The result writes deletes before inserts, so a retry after a full disk can free room first.
        """
        for low, high in newer.dropped:  # a queue deleted later: its earlier changes are void
            self.inserts = {k: v for k, v in self.inserts.items() if not low <= k <= high}
            self.updates = {k: v for k, v in self.updates.items() if not low <= k <= high}
            self.deletes = [k for k in self.deletes if not low <= k <= high]
        inserts = self.inserts
        updates = self.updates
        for key in newer.deletes:
            if inserts.pop(key, None) is None:
                self.deletes.append(key)
                updates.pop(key, None)
        for key, flags in newer.updates.items():
            row = inserts.get(key)
            if row is not None:
                inserts[key] = (key, flags, row[2], row[3])
            else:
                updates[key] = flags
        inserts.update(newer.inserts)
        self.ops.extend(newer.ops)
        self.dropped.extend(newer.dropped)
        self.gen = newer.gen
        return self


class SQLiteStore:
    """A :class:`minimq.store.Store` in one SQLite file.  See the module docstring for the design.

    ``synchronous``: ``"FULL"`` (fsync per commit; survives power loss) or ``"NORMAL"`` (survives a
    process crash).  ``commit_interval``: seconds an unconfirmed change may wait for its commit.
    ``max_batch``: changes that trigger a commit sooner.  ``max_bytes``: refuse to grow the file past
    this size (:class:`StoreFullError`), for quotas and tests.
    """

    def __init__(self, path: str | os.PathLike, *, synchronous: str = "FULL", commit_interval: float = 0.02,
                 max_batch: int = 8192, max_bytes: int | None = None) -> None:
        sync = str(synchronous).upper()
        if sync not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be 'FULL' or 'NORMAL', got {synchronous!r}")
        if not commit_interval > 0:
            raise ValueError(f"commit_interval must be > 0, got {commit_interval!r}")
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch!r}")
        self.path = os.fspath(path)
        self.synchronous = sync
        self.commit_interval = float(commit_interval)
        self.max_batch = int(max_batch)
        self.max_bytes = max_bytes
        self._packer = msgpack.Packer(default=_default, use_bin_type=True)  # used under the broker lock only
        self._lock: Any = None          # the broker lock: held to cut a batch
        self._clock: Any = None
        # The open batch (mutated under the broker lock).
        self._gen = 0                   # generation of the open batch
        self._n = 0                     # changes in the open batch
        self._ops: list[tuple[str, tuple]] = []
        self._deletes: list[int] = []
        self._inserts: dict[int, tuple] = {}
        self._updates: dict[int, int] = {}
        self._dropped: list[tuple[int, int]] = []
        self._last_message: Message | None = None
        self._last_record = b""
        # Committing.  Lock order: _cond (never held while waiting for another lock), then
        # _write_lock (the connection), then the broker lock (only to cut a batch).  Broker-lock
        # holders never take _cond or _write_lock, so cutting never deadlocks.
        self._write_lock = threading.Lock()
        #: guards the leader role (_committing); notified, all waiters at once, after every commit attempt
        leader_lock = threading.Lock()
        self._cond = threading.Condition(leader_lock)
        self._committing = False
        self._arrived = 0               # threads that asked for a commit not yet cut
        #: the leader waits here (same lock as _cond) for the last group's threads to come back
        self._arrivals = threading.Condition(leader_lock)
        self._gathering = False
        self._group = 1                 # threads that joined the last commit
        self._write_time = 0.0          # seconds the last commit took
        self._durable = -1              # every batch with gen <= _durable is committed
        self._retained: _Batch | None = None  # a batch whose commit failed: retried with the next one
        #: (ticket, callback) of when_durable, in ticket order; guarded by _cond
        self._callbacks: list[tuple[int, Callable[[BaseException | None], None]]] = []
        self._qids: dict[tuple[str, str], int] = {}
        self._next_qid = 1
        self._commits = 0
        self._written = 0
        self._closed = False
        self._kick = threading.Event()  # the open batch became non-empty
        self._urgent = threading.Event()  # the open batch is full, or closing
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self._page_size = 4096
        self._final: _Batch | None = None  # the batch close() writes
        self._clean = True
        self._open()

    # -- opening ---------------------------------------------------------------------------------
    def _open(self) -> None:
        path = self.path
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            raise StoreOpenError(f"cannot open store '{path}': directory '{directory}' does not exist", path)
        exists = os.path.exists(path)
        if exists:
            if not os.path.isfile(path):
                raise StoreOpenError(f"cannot open store '{path}': not a regular file", path)
            with open(path, "rb") as f:
                head = f.read(len(_SQLITE_HEADER))
            if head and head != _SQLITE_HEADER:
                raise StoreCorruptError(f"cannot open store '{path}': not an SQLite database (bad header)", path)
            if not os.access(path, os.W_OK):
                raise StoreReadOnlyError(f"cannot open store '{path}': the file is read-only", path)
        if not os.access(directory, os.W_OK):
            raise StoreReadOnlyError(f"cannot open store '{path}': directory '{directory}' is read-only (the "
                                     "store writes its log and lock there)", path)
        try:
            conn = sqlite3.connect(path, timeout=0.0, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as error:
            raise _translate(error, path, "cannot open store") from error
        try:
            self._configure(conn)
        except BaseException as error:
            conn.close()
            if isinstance(error, sqlite3.Error):
                raise _translate(error, path, "cannot open store") from error
            raise
        self._conn = conn

    def _configure(self, conn: sqlite3.Connection) -> None:
        path = self.path
        execute = conn.execute
        execute("PRAGMA locking_mode = EXCLUSIVE")
        tables = {row[0] for row in execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "meta" not in tables:
            raise ForeignDatabaseError(f"cannot open store '{path}': an SQLite database minimq did not write "
                                       f"(tables: {', '.join(sorted(tables))}); it was left untouched", path)
        if not tables:
            execute("PRAGMA auto_vacuum = INCREMENTAL")  # only effective before the first table
        mode = execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreIOError(f"cannot open store '{path}': WAL mode refused (journal_mode={mode})", path)
        execute(f"PRAGMA synchronous = {self.synchronous}")
        execute("PRAGMA journal_size_limit = 8388608")
        self._page_size = execute("PRAGMA page_size").fetchone()[0]
        if self.max_bytes is not None:
            execute(f"PRAGMA max_page_count = {max(1, int(self.max_bytes) // self._page_size)}")
        execute("BEGIN IMMEDIATE")  # takes the exclusive lock: a second broker fails here
        try:
            if not tables:
                for statement in _SCHEMA:
                    execute(statement)
                execute("INSERT INTO meta VALUES ('application', ?), ('schema_version', ?), ('clean', 1)",
                        (APPLICATION, SCHEMA_VERSION))
            else:
                meta = dict(execute("SELECT key, value FROM meta").fetchall())
                if meta.get("application") != APPLICATION:
                    raise ForeignDatabaseError(f"cannot open store '{path}': its meta table is not minimq's "
                                               f"(application={meta.get('application')!r}); it was left untouched",
                                               path)
                version = meta.get("schema_version")
                if not isinstance(version, int) or version < 1:
                    raise StoreCorruptError(f"cannot open store '{path}': bad schema_version {version!r}", path)
                if version > SCHEMA_VERSION:
                    raise SchemaVersionError(f"cannot open store '{path}': schema version {version} was written by "
                                             f"a newer minimq; this one reads up to version {SCHEMA_VERSION}", path)
                while version < SCHEMA_VERSION:
                    migrate = MIGRATIONS.get(version)
                    if migrate is None:
                        raise SchemaVersionError(f"cannot open store '{path}': no migration from schema version "
                                                 f"{version}", path)
                    migrate(conn)
                    version += 1
                    execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (version,))
            execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    # -- recovery --------------------------------------------------------------------------------
    def recover(self, lock: Any, clock: Any) -> RecoveredState:
        """Read the durable state; mark the file in use (``clean = 0``) until :meth:`close`."""
        conn = self._require_open()
        self._lock = lock
        self._clock = clock
        path = self.path
        try:
            execute = conn.execute
            self._clean = execute("SELECT value FROM meta WHERE key = 'clean'").fetchone()[0] == 1
            vhosts = [row[0] for row in execute("SELECT name FROM vhosts ORDER BY rowid")]
            exchanges = []
            for vhost, name, record in execute("SELECT vhost, name, record FROM exchanges ORDER BY rowid"):
                type_, auto_delete, internal, arguments = _fields(_unpack(record), _EXCHANGE_DEFAULTS)[:4]
                exchanges.append(ExchangeRecord(vhost, name, type_, auto_delete, internal, arguments))
            queues = []
            for qid, vhost, name, record in execute("SELECT id, vhost, name, record FROM queues ORDER BY id"):
                auto_delete, arguments = _fields(_unpack(record), _QUEUE_DEFAULTS)[:2]
                queues.append(QueueRecord(vhost, name, auto_delete, arguments))
                self._qids[vhost, name] = qid
                self._next_qid = max(self._next_qid, qid + 1)
            bindings = [BindingRecord(v, s, d, bool(k), rk, _unpack(a)) for v, s, d, k, rk, a in execute(
                "SELECT vhost, source, destination, dest_is_queue, routing_key, arguments FROM bindings "
                "ORDER BY rowid")]
            execute("BEGIN")
            if not self._clean:
                # Deliveries made after the last commit are unknown: every message may have been delivered.
                execute("UPDATE messages SET flags = flags | 1 WHERE flags & 1 = 0")
            execute("UPDATE meta SET value = 0 WHERE key = 'clean'")
            execute("COMMIT")
        except sqlite3.Error as error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise _translate(error, path, "cannot recover store") from error
        except (ValueError, TypeError, msgpack.UnpackException) as error:
            raise StoreCorruptError(f"cannot recover store '{path}': a record does not decode ({error})",
                                    path) from error
        return RecoveredState(vhosts, exchanges, queues, bindings, self._recovered_messages, self._clean)

    def _recovered_messages(self, vhost: str, queue: str) -> Iterator[RecoveredMessage]:
        qid = self._qids.get((vhost, queue))
        if qid is None:
            return
        conn = self._require_open()
        low = qid << _SEQ_BITS
        try:
            rows = conn.execute("SELECT id, flags, expires, record FROM messages WHERE id BETWEEN ? AND ? ORDER BY id",
                                (low, low | _SEQ_MASK))
        except sqlite3.Error as error:
            raise _translate(error, self.path, "cannot recover store") from error
        for key, flags, expires, record in rows:
            try:
                message = _decode_message(record)
            except (ValueError, TypeError, msgpack.UnpackException) as error:
                raise StoreCorruptError(f"cannot recover store '{self.path}': message {key & _SEQ_MASK} of queue "
                                        f"'{queue}' in vhost '{vhost}' does not decode ({error})", self.path) from error
            yield RecoveredMessage(key & _SEQ_MASK, message, bool(flags & 1), flags >> 1, expires)

    # -- events (broker lock held) ---------------------------------------------------------------
    def _note(self, count: int = 1) -> None:
        n = self._n = self._n + count
        if n == count:
            if self._thread is None:
                self._start_thread()
            self._kick.set()
        elif n >= self.max_batch and not self._urgent.is_set():
            self._urgent.set()

    def _pack(self, value: Any, what: str) -> bytes:
        try:
            return self._packer.pack(value)
        except (TypeError, ValueError, OverflowError, UnicodeError) as error:
            self._packer.reset()
            raise StoreEncodeError(f"cannot store {what}: {error}", self.path) from error

    def _op(self, sql: str, params: tuple) -> None:
        self._ops.append((sql, params))
        self._note()

    def vhost_added(self, vhost: str) -> None:
        self._op("INSERT OR IGNORE INTO vhosts (name) VALUES (?)", (vhost,))

    def vhost_deleted(self, vhost: str) -> None:
        for key in [k for k in self._qids if k[0] == vhost]:
            self.queue_deleted(*key)
        for sql in ("DELETE FROM vhosts WHERE name = ?", "DELETE FROM exchanges WHERE vhost = ?",
                    "DELETE FROM bindings WHERE vhost = ?", "DELETE FROM queues WHERE vhost = ?"):
            self._op(sql, (vhost,))

    def exchange_declared(self, vhost: str, name: str, type: str, durable: bool, auto_delete: bool,  # noqa: A002
                          internal: bool, arguments: dict[str, Any]) -> None:
        record = self._pack([type, auto_delete, internal, arguments], f"exchange '{name}' arguments")
        self._op("INSERT OR REPLACE INTO exchanges (vhost, name, record) VALUES (?, ?, ?)", (vhost, name, record))

    def exchange_deleted(self, vhost: str, name: str) -> None:
        self._op("DELETE FROM exchanges WHERE vhost = ? AND name = ?", (vhost, name))
        self._op("DELETE FROM bindings WHERE vhost = ? AND (source = ? OR (destination = ? AND dest_is_queue = 0))",
                 (vhost, name, name))

    def queue_declared(self, vhost: str, name: str, arguments: dict[str, Any], auto_delete: bool) -> None:
        record = self._pack([auto_delete, arguments], f"queue '{name}' arguments")
        old = self._qids.get((vhost, name))
        if old is not None:
            self.queue_deleted(vhost, name)
        qid = self._next_qid
        self._next_qid = qid + 1
        self._qids[vhost, name] = qid
        self._op("INSERT OR REPLACE INTO queues (id, vhost, name, record) VALUES (?, ?, ?, ?)",
                 (qid, vhost, name, record))

    def queue_deleted(self, vhost: str, name: str) -> None:
        qid = self._qids.pop((vhost, name), None)
        if qid is None:
            return
        low = qid << _SEQ_BITS
        high = low | _SEQ_MASK
        # Changes of this queue still in the open batch are void: the range delete covers them.
        if self._inserts:
            self._inserts = {k: v for k, v in self._inserts.items() if not low <= k <= high}
        if self._updates:
            self._updates = {k: v for k, v in self._updates.items() if not low <= k <= high}
        if self._deletes:
            self._deletes = [k for k in self._deletes if not low <= k <= high]
        self._dropped.append((low, high))
        self._op("DELETE FROM queues WHERE id = ?", (qid,))
        self._op("DELETE FROM messages WHERE id BETWEEN ? AND ?", (low, high))
        self._op("DELETE FROM bindings WHERE vhost = ? AND destination = ? AND dest_is_queue = 1", (vhost, name))

    def binding_added(self, vhost: str, source: str, destination: str, dest_is_queue: bool, routing_key: str,
                      arguments: dict[str, Any]) -> None:
        blob = self._pack(arguments, f"binding arguments {arguments!r}")
        self._op("INSERT OR IGNORE INTO bindings (vhost, source, destination, dest_is_queue, routing_key, arguments) "
                 "VALUES (?, ?, ?, ?, ?, ?)", (vhost, source, destination, int(dest_is_queue), routing_key, blob))

    def binding_removed(self, vhost: str, source: str, destination: str, dest_is_queue: bool, routing_key: str,
                        arguments: dict[str, Any]) -> None:
        blob = self._pack(arguments, f"binding arguments {arguments!r}")
        self._op("DELETE FROM bindings WHERE vhost = ? AND source = ? AND destination = ? AND dest_is_queue = ? "
                 "AND routing_key = ? AND arguments = ?", (vhost, source, destination, int(dest_is_queue),
                                                           routing_key, blob))

    def message_enqueued(self, vhost: str, queue: str, seq: int, entry: Any) -> None:
        qid = self._qids.get((vhost, queue))
        if qid is None:
            return
        key = qid << _SEQ_BITS | seq
        message = entry.message
        if message is self._last_message:  # one message routed to several durable queues: encode once
            record = self._last_record
        else:
            props = message.properties
            record = self._pack([message.exchange, message.routing_key, message.body,
                                 None if props is None else list(_get_properties(props)), message.ttl],
                                f"a message published to '{message.exchange}' with routing key "
                                f"'{message.routing_key}'")
            self._last_message = message
            self._last_record = record
        expires = entry.expires_at
        if expires is not None:
            clock = self._clock
            expires = int(expires - clock.now_ms() + clock.wall_time() * 1000.0)
        self._inserts[key] = (key, entry.redelivered | entry.delivery_count << 1, expires, record)
        self._note()

    def message_removed(self, vhost: str, queue: str, seq: int) -> None:
        qid = self._qids.get((vhost, queue))
        if qid is None:
            return
        key = qid << _SEQ_BITS | seq
        if self._inserts.pop(key, None) is None:  # published and removed within one batch: never written
            self._deletes.append(key)
            if self._updates:
                self._updates.pop(key, None)
        self._note()

    def message_redelivered(self, vhost: str, queue: str, seq: int, entry: Any) -> None:
        qid = self._qids.get((vhost, queue))
        if qid is None:
            return
        key = qid << _SEQ_BITS | seq
        flags = entry.redelivered | entry.delivery_count << 1
        pending = self._inserts.get(key)
        if pending is not None:
            self._inserts[key] = (key, flags, pending[2], pending[3])
        else:
            self._updates[key] = flags
        self._note()

    # -- committing ------------------------------------------------------------------------------
    def _cut(self) -> _Batch:
        """Close the open batch (broker lock held, or no broker yet)."""
        batch = _Batch(self._gen, self._ops, self._deletes, self._inserts, self._updates, self._dropped)
        self._gen += 1
        self._n = 0
        self._dropped = []
        self._ops = []
        self._deletes = []
        self._inserts = {}
        self._updates = {}
        return batch

    def flush(self) -> None:
        """Return once every change reported before this call is committed (never under the broker lock)."""
        # The caller's changes are in the open batch or an earlier one.  If the open batch was empty
        # when read, they are all in earlier ones; a cut between the two reads only raises the target.
        n = self._n
        gen = self._gen
        target = gen if n else gen - 1
        if self._durable >= target and self._retained is None:
            return
        self._commit(target)

    def commit_ticket(self) -> int:
        """The generation whose commit covers everything reported so far (broker lock held)."""
        return self._gen if self._n else self._gen - 1

    def when_durable(self, ticket: int, callback: Callable[[BaseException | None], None]) -> None:
        """Call ``callback(None)`` once ``ticket`` is committed, or ``callback(error)`` if its commit
        fails (see :meth:`minimq.store.Store.when_durable`).  Asks the committer thread for a commit now."""
        error: BaseException | None = None
        with self._cond:
            if self._durable >= ticket and self._retained is None:
                pass
            elif self._conn is None:
                error = StoreClosedError(f"store '{self.path}' is closed", self.path)
            else:
                self._callbacks.append((ticket, callback))
                callback = None  # type: ignore[assignment]
                if self._thread is None:
                    self._start_thread()
                if self._retained is None:  # after a failure the committer backs off as it does
                    self._urgent.set()
                self._kick.set()
        if callback is not None:
            _run_durable_callback(callback, error)

    def _take_callbacks(self, failed_gen: int | None) -> list:
        """Callbacks settled by the commit that just ended (``_cond`` held)."""
        callbacks = self._callbacks
        if not callbacks:
            return callbacks
        limit = self._durable if failed_gen is None else failed_gen
        if failed_gen is None and self._retained is not None:
            return []
        n = 0
        for ticket, _ in callbacks:
            if ticket > limit:
                break
            n += 1
        if not n:
            return []
        done = callbacks[:n]
        del callbacks[:n]
        return done

    def _commit(self, target: int, extra: tuple[str, tuple] | None = None) -> None:
        """Make batches up to ``target`` durable: lead one commit, or wait for the one running.

        Group commit: the leader cuts everything recorded so far, so threads that published while
        the previous commit ran are all covered by the next one; when a commit ends every waiter
        wakes at once, and those still uncovered elect the next leader among themselves.
        """
        cond = self._cond
        with cond:
            arrived = False
            while True:
                if self._durable >= target and self._retained is None and extra is None:
                    return  # a commit that ran while we waited covered us
                if not arrived:
                    arrived = True
                    self._arrived += 1
                    if self._gathering:
                        self._arrivals.notify()
                if not self._committing:
                    break
                cond.wait()
            self._committing = True
            # The threads the last commit released are publishing again: give them a moment to join
            # this commit (at most half the last commit's duration) instead of committing alone.
            group = self._group
            if group > 1 and self._arrived < group:
                self._gathering = True
                self._arrivals.wait_for(lambda: self._arrived >= group, min(self._write_time * 0.5, 0.002))
                self._gathering = False
            joined = self._arrived
        failed: BaseException | None = None
        failed_gen: int | None = None
        try:
            with self._write_lock:
                if self._closed and extra is None:
                    raise StoreClosedError(f"store '{self.path}' is closed", self.path)
                lock = self._lock
                if lock is not None:
                    with lock:
                        batch = self._cut()
                else:
                    batch = self._cut()
                if extra is not None:
                    batch.ops.append(extra)
                if self._retained is not None:
                    batch = self._retained.absorb(batch)
                if extra is not None:
                    self._final = batch
                started = time.perf_counter()
                try:
                    self._write(batch)
                except StoreError as error:
                    self._retained = batch
                    failed, failed_gen = error, batch.gen
                    raise
                self._write_time = time.perf_counter() - started
                self._retained = None
                self._durable = batch.gen
        finally:
            with cond:
                self._arrived -= joined
                self._group = joined
                self._committing = False
                cond.notify_all()
                done = self._take_callbacks(failed_gen)
            for _, callback in done:
                _run_durable_callback(callback, failed)

    def _write(self, batch: _Batch) -> None:
        conn = self._conn
        if conn is None:
            raise StoreClosedError(f"store '{self.path}' is closed", self.path)
        execute = conn.execute
        executemany = conn.executemany
        try:
            execute("BEGIN")
            for sql, params in batch.ops:
                execute(sql, params)
            if batch.deletes:
                executemany(_DELETE, [(key,) for key in batch.deletes])
            if batch.inserts:
                executemany(_INSERT, batch.inserts.values())
            if batch.updates:
                executemany(_UPDATE, [(flags, key) for key, flags in batch.updates.items()])
            execute("COMMIT")
        except sqlite3.Error as error:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            raise _translate(error, self.path, "cannot commit to store") from error
        self._commits += 1
        self._written += batch.size()
        if not self._commits & 15 or batch is self._final:
            self._reclaim(conn, batch is self._final)

    def _reclaim(self, conn: sqlite3.Connection, everything: bool = False) -> None:
        """Give free pages back to the OS, in a transaction of its own: at close all of them,
        otherwise (checked every 16 commits) when more than half the file is free, down to a quarter,
        at most 8192 pages at a time.  A failure here loses nothing and is only logged."""
        try:
            free = conn.execute("PRAGMA freelist_count").fetchone()[0]
            if everything:
                count = free
            else:
                pages = conn.execute("PRAGMA page_count").fetchone()[0]
                count = min(free - pages // 4, 8192) if free > 1024 and free * 2 > pages else 0
            if count > 0:
                # executescript steps the pragma to the end (execute would free a single page)
                conn.executescript(f"PRAGMA incremental_vacuum({count});")
        except sqlite3.Error as error:
            log.warning("minimq: could not reclaim free pages of '%s': %s", self.path, error)

    # -- committer thread ------------------------------------------------------------------------
    def _start_thread(self) -> None:
        thread = threading.Thread(target=_committer, args=(weakref.ref(self), self._kick, self._urgent),
                                  name=f"minimq-store-{os.path.basename(self.path)}", daemon=True)
        self._thread = thread
        thread.start()

    def _background_commit(self) -> None:
        if (self._n or self._retained is not None) and not self._closed:
            self._commit(self._gen)

    # -- lifecycle -------------------------------------------------------------------------------
    def _require_open(self) -> sqlite3.Connection:
        conn = self._conn
        if conn is None:
            raise StoreClosedError(f"store '{self.path}' is closed", self.path)
        return conn

    def close(self) -> None:
        """Commit what is pending, record a clean shutdown and close the file.  Closing twice is harmless.

        If the final commit fails, the file is closed anyway and the error raised: the next broker
        then recovers the last committed state, as after a crash.
        """
        if self._conn is None:
            return
        self._closed = True
        self._urgent.set()
        self._kick.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(5.0)
        try:
            self._commit(self._gen, ("UPDATE meta SET value = 1 WHERE key = 'clean'", ()))
        finally:
            with self._write_lock:
                conn, self._conn = self._conn, None
                if conn is not None:
                    conn.close()
            with self._cond:  # not covered by the final commit (it failed): never left waiting
                orphans, self._callbacks = self._callbacks, []
            for _, callback in orphans:
                _run_durable_callback(callback, StoreClosedError(f"store '{self.path}' closed before "
                                                                 f"committing", self.path))

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- introspection ---------------------------------------------------------------------------
    def statistics(self) -> StoreStatistics:
        size = 0
        for suffix in ("", "-wal"):
            try:
                size += os.path.getsize(self.path + suffix)
            except OSError:
                pass
        pages = free = 0
        conn = self._conn
        if conn is not None:
            with self._write_lock:
                pages = conn.execute("PRAGMA page_count").fetchone()[0]
                free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        page = self._page_size
        return StoreStatistics(self._commits, self._written, self._n, size, pages * page, (pages - free) * page)

    def _check(self) -> None:
        """Assert the invariants of the open batch (tests call this; takes the broker lock)."""
        lock = self._lock
        if lock is not None:
            lock.acquire()
        try:
            inserts, deletes, updates = self._inserts, set(self._deletes), self._updates
            assert not inserts.keys() & deletes, "a message is both inserted and deleted in one batch"
            assert not inserts.keys() & updates.keys(), "a pending insert has a separate flag update"
            queues = set(self._qids.values())
            assert len(queues) == len(self._qids), "two queues share an id"
            assert all(key >> _SEQ_BITS in queues for key in inserts), "a pending insert for an unknown queue"
            assert all(key == row[0] for key, row in inserts.items()), "a pending insert under the wrong id"
            assert self._n >= len(self._ops) + len(inserts), "the change count drifted"
            assert self._durable < self._gen and max(queues, default=0) < self._next_qid
        finally:
            if lock is not None:
                lock.release()

    def __repr__(self) -> str:
        state = "closed" if self._conn is None else f"pending={self._n}, commits={self._commits}"
        return f"SQLiteStore({self.path!r}, synchronous={self.synchronous}, {state})"


def _run_durable_callback(callback: Callable[[BaseException | None], None], error: BaseException | None) -> None:
    try:
        callback(error)
    except Exception:  # a waiter's bug must not stop the committer or the other waiters
        log.exception("minimq: durability callback %r raised", callback)


def _committer(ref: Callable[[], SQLiteStore | None], kick: threading.Event, urgent: threading.Event) -> None:
    """Commit unconfirmed changes ``commit_interval`` after the first one of a batch (or when it is full)."""
    failures = 0
    while True:
        if not kick.wait(1.0):
            store = ref()
            if store is None or store._closed:
                return
            del store
            continue
        store = ref()
        if store is None or store._closed:
            return
        interval = store.commit_interval * (1 + min(failures, 50))
        del store
        urgent.wait(interval)
        store = ref()
        if store is None or store._closed:
            return
        kick.clear()
        urgent.clear()
        try:
            store._background_commit()
            failures = 0
        except StoreError as error:
            if not failures:
                log.error("minimq: background commit failed (will retry): %s", error)
            failures += 1
            kick.set()  # retry, after a longer wait
        except Exception:  # pragma: no cover - a bug; keep committing
            log.exception("minimq: background commit failed")
            failures += 1
            kick.set()
        del store

"""A hypothesis state machine over the core broker, with a model that tracks every message copy.

Two connections with two channels each: connection 0's channels are ``inline`` and record
deliveries from consumer callbacks, connection 1's are ``inline=False`` and are drained with
``pop_event``.  Rules declare queues, bind them, publish unique bodies, get, consume (with a
per-consumer prefetch), ack / nack / reject (with and without requeue, single and multiple),
recover, cancel, and close channels and connections, including soft (404, 406) and hard (540)
errors.  Closed channels and connections are reopened at the end of the step.

The model knows where every copy of every published body is: ready in its queue (in enqueue order),
unacked under a delivery tag on one channel, or settled for a stated reason (acked, auto-acked,
rejected, dead-lettered).  After every step the broker must agree exactly:

* ``broker._check()`` passes;
* each queue's ready bodies, in order, and ``message_count`` equal the model's;
* each open channel's unacked tags and bodies equal the model's;
* every copy is in exactly one place (ready + unacked + settled = created);
* consumer counts match; no consumer holds more than its prefetch; a queue has ready messages
  only while none of its consumers has capacity;
* deliveries carry consecutive per-channel tags, come from the head of their queue, and have
  ``redelivered`` set exactly for copies that were returned to their queue before.

Queue ``q2`` dead-letters rejected messages to ``dlq``, so rejections there move a body to a new copy.
"""

from __future__ import annotations

import itertools

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from minimq import (Broker, Delivery, ManualClock, NotFound, NotImplementedByServer, PreconditionFailed,
                    PublishOutcome)

QUEUES = ("q0", "q1", "q2")  # declared, bound and published to by the rules
ALL_QUEUES = QUEUES + ("dlq",)  # dlq is only fed by q2's dead-lettering
QUEUE_ARGS = {"q2": {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "dlq"}}
KEYS = ("a", "b")
SLOTS = [(0, 0), (0, 1), (1, 0), (1, 1)]

slots = st.sampled_from(SLOTS)
queues = st.sampled_from(QUEUES)
any_queue = st.sampled_from(ALL_QUEUES)


class Copy:
    """One copy of a published body in one queue."""

    __slots__ = ("cid", "queue", "seq", "body", "redelivered")

    def __init__(self, cid: int, queue: str, seq: int, body: bytes) -> None:
        self.cid, self.queue, self.seq, self.body = cid, queue, seq, body
        self.redelivered = False

    def __repr__(self) -> str:
        return f"Copy({self.body!r} in {self.queue} #{self.seq}{' redelivered' if self.redelivered else ''})"


class Slot:
    """One channel position (connection i, channel j): the live broker channel and its model state."""

    def __init__(self, key: tuple[int, int]) -> None:
        self.key = key
        self.channel = None
        self.observed: list[Delivery] = []
        self.next_tag = 1
        self.unacked: dict[int, tuple[int, str | None]] = {}  # tag -> (cid, consumer tag or None)
        self.consumers: dict[str, tuple[str, bool, int]] = {}  # tag -> (queue, auto_ack, prefetch)
        self.consumer_queue: dict[str, tuple[str, bool]] = {}  # every tag ever used: (queue, auto_ack)
        self.prefetch = 0
        self.closed = False

    @property
    def inline(self) -> bool:
        return self.key[0] == 0

    def drain(self) -> list[Delivery]:
        """The deliveries this channel received since the last drain, in order."""
        if not self.inline:
            while True:
                event = self.channel.pop_event()
                if event is None:
                    break
                if type(event) is Delivery:
                    self.observed.append(event)
        out = list(self.observed)
        self.observed.clear()  # in place: inline consumer callbacks append to this very list
        return out


class BrokerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.broker = Broker(clock=ManualClock())
        self.connections = [None, None]
        self.slots = {key: Slot(key) for key in SLOTS}
        for i in (0, 1):
            self._open_connection(i)
        self.body_counter = itertools.count()
        self.ctag_counter = itertools.count()
        self.cid_counter = itertools.count()
        self.seq_counter = itertools.count()
        self.copies: dict[int, Copy] = {}
        self.where: dict[int, tuple] = {}
        self.ready: dict[str, set[int]] = {q: set() for q in ALL_QUEUES}
        self.by_queue_body: dict[tuple[str, bytes], int] = {}
        self.settled: dict[str, int] = {}
        self.declared: set[str] = set()
        self.bindings: set[tuple[str, str, str]] = set()  # (exchange, key, queue)
        self.closing: list[Slot] = []
        self.close_step = False
        self.redelivered_at_start: dict[int, bool] = {}
        # dlq exists from the start so q2's dead letters are never dropped
        self._declare(self.slots[(0, 0)], "dlq")

    # -- plumbing --------------------------------------------------------------------------------
    def _open_connection(self, i: int) -> None:
        self.connections[i] = self.broker.connect()
        for j in (0, 1):
            self._open_slot(self.slots[(i, j)])

    def _open_slot(self, slot: Slot) -> None:
        fresh = Slot(slot.key)
        fresh.channel = self.connections[slot.key[0]].channel(inline=fresh.inline)
        self.slots[slot.key] = fresh

    def _begin(self) -> None:
        self.closing = []
        self.close_step = False
        self.redelivered_at_start = {cid: c.redelivered for cid, c in self.copies.items()}

    def _new_copy(self, queue: str, body: bytes) -> None:
        cid = next(self.cid_counter)
        copy = Copy(cid, queue, next(self.seq_counter), body)
        self.copies[cid] = copy
        self.redelivered_at_start[cid] = False
        key = (queue, body)
        assert key not in self.by_queue_body, f"model: a second copy of {body!r} in {queue}"
        self.by_queue_body[key] = cid
        self.where[cid] = ("ready", queue)
        self.ready[queue].add(cid)

    def _settle(self, cid: int, reason: str) -> None:
        self.where[cid] = ("settled", reason)
        self.settled[reason] = self.settled.get(reason, 0) + 1

    def _requeue(self, cid: int) -> None:
        copy = self.copies[cid]
        copy.redelivered = True
        self.where[cid] = ("ready", copy.queue)
        self.ready[copy.queue].add(cid)

    def _discard(self, cid: int) -> None:
        """nack/reject without requeue: q2 dead-letters to dlq, the others drop."""
        copy = self.copies[cid]
        if copy.queue == "q2":
            self._settle(cid, "dead-lettered")
            self._new_copy("dlq", copy.body)
        else:
            self._settle(cid, "rejected")

    def _close_slot(self, slot: Slot) -> None:
        """Model a channel close: consumers gone, unacked requeued in tag order."""
        if slot.closed:
            return
        slot.closed = True
        self.closing.append(slot)
        self.close_step = True
        slot.consumers.clear()
        for tag in sorted(slot.unacked):
            self._requeue(slot.unacked[tag][0])
        slot.unacked.clear()

    def _close_connection(self, i: int) -> None:
        for channel in list(self.connections[i].channels.values()):
            slot = next(s for s in self.slots.values() if s.channel is channel)
            self._close_slot(slot)
        for slot in self.slots.values():  # channels the broker already closed
            if slot.key[0] == i:
                self._close_slot(slot)

    def _declare(self, slot: Slot, queue: str) -> None:
        ok = slot.channel.queue_declare(queue, arguments=QUEUE_ARGS.get(queue))
        assert ok.queue == queue
        self.declared.add(queue)

    def _route(self, exchange: str, key: str) -> list[str]:
        if exchange == "":
            return [key] if key in self.declared else []
        if exchange == "amq.direct":
            return sorted({q for x, k, q in self.bindings if x == exchange and k == key})
        return sorted({q for x, k, q in self.bindings if x == exchange})

    def _consumer_load(self, slot: Slot, tag: str) -> int:
        return sum(1 for _, ctag in slot.unacked.values() if ctag == tag)

    def _finish(self) -> None:
        """Account for every delivery pushed during the step, then reopen what closed."""
        order = self.closing + [s for s in self.slots.values() if s not in self.closing]
        delivered: dict[str, list[int]] = {q: [] for q in ALL_QUEUES}
        heads = {q: sorted(self.ready[q], key=lambda c: self.copies[c].seq) for q in ALL_QUEUES}
        for slot in order:
            for d in slot.drain():
                assert d.delivery_tag == slot.next_tag, (slot.key, d, slot.next_tag)
                slot.next_tag += 1
                queue, auto_ack = slot.consumer_queue[d.consumer_tag]
                cid = self.by_queue_body[(queue, d.body)]
                copy = self.copies[cid]
                assert self.where[cid] == ("ready", queue), (d, copy, self.where[cid])
                if d.redelivered:
                    assert copy.redelivered, (d, copy)
                else:
                    assert not self.redelivered_at_start[cid], (d, copy)
                self.ready[queue].discard(cid)
                delivered[queue].append(cid)
                if auto_ack:
                    self._settle(cid, "auto-acked")
                elif slot.closed:  # delivered, then its channel closed in the same step
                    self._requeue(cid)
                else:
                    self.where[cid] = ("unacked", slot.key, d.delivery_tag)
                    slot.unacked[d.delivery_tag] = (cid, d.consumer_tag)
        if not self.close_step:
            for q, cids in delivered.items():  # a step's deliveries come from the head of each queue
                assert sorted(cids, key=lambda c: self.copies[c].seq) == heads[q][:len(cids)], q
        for i in (0, 1):
            if self.connections[i].is_closed:
                self._open_connection(i)
        for slot in list(self.slots.values()):
            if slot.closed:
                assert slot.channel.is_closed
                self._open_slot(slot)

    # -- rules -------------------------------------------------------------------------------------
    @initialize(undeclared=st.sets(queues, max_size=2))
    def declare_some(self, undeclared):
        """Most queues exist from the start; the rest wait for the declare rule (using them first is a 404)."""
        for queue in QUEUES:
            if queue not in undeclared:
                self._declare(self.slots[(0, 0)], queue)

    @rule(slot=slots, queue=queues)
    def declare(self, slot, queue):
        self._begin()
        s = self.slots[slot]
        known = queue in self.declared
        ok = s.channel.queue_declare(queue, arguments=QUEUE_ARGS.get(queue))
        self.declared.add(queue)
        if known:  # DeclareOk counts ready messages and consumers
            consumers = sum(1 for x in self.slots.values() for cq, _, _ in x.consumers.values() if cq == queue)
            assert (ok.message_count, ok.consumer_count) == (len(self.ready[queue]), consumers)
        else:
            assert tuple(ok) == (queue, 0, 0)
        self._finish()

    @rule(slot=slots, queue=queues, exchange=st.sampled_from(["amq.direct", "amq.fanout"]),
          key=st.sampled_from(KEYS))
    def bind(self, slot, queue, exchange, key):
        self._begin()
        s = self.slots[slot]
        if queue in self.declared:
            s.channel.queue_bind(queue, exchange, key)
            self.bindings.add((exchange, key, queue))
        else:
            try:
                s.channel.queue_bind(queue, exchange, key)
                raise AssertionError("bind to a missing queue succeeded")
            except NotFound as error:
                assert error.reply_text == f"NOT_FOUND - no queue '{queue}' in vhost '/'"
            self._close_slot(s)
        self._finish()

    @rule(slot=slots, exchange=st.sampled_from(["", "amq.direct", "amq.fanout"]),
          key=st.sampled_from(QUEUES + KEYS), mandatory=st.booleans(), count=st.integers(1, 3))
    def publish(self, slot, exchange, key, mandatory, count):
        for _ in range(count):
            self._begin()
            body = b"m%d" % next(self.body_counter)
            targets = self._route(exchange, key)
            outcome = self.slots[slot].channel.basic_publish(exchange, key, body, mandatory=mandatory)
            assert outcome is (PublishOutcome.ROUTED if targets else PublishOutcome.UNROUTABLE)
            for queue in targets:
                self._new_copy(queue, body)
            self._finish()

    @rule(slot=slots, queue=any_queue, auto_ack=st.booleans())
    def get(self, slot, queue, auto_ack):
        self._begin()
        s = self.slots[slot]
        if queue not in self.declared:
            try:
                s.channel.basic_get(queue, auto_ack=auto_ack)
                raise AssertionError("get from a missing queue succeeded")
            except NotFound:
                pass
            self._close_slot(s)
            self._finish()
            return
        d = s.channel.basic_get(queue, auto_ack=auto_ack)
        head = sorted(self.ready[queue], key=lambda c: self.copies[c].seq)
        if d is None:
            assert not head, f"get on {queue} returned nothing, model has {head}"
        else:
            cid = head[0]
            copy = self.copies[cid]
            assert (d.body, d.redelivered, d.delivery_tag) == (copy.body, copy.redelivered, s.next_tag)
            assert d.message_count == len(head) - 1
            s.next_tag += 1
            self.ready[queue].discard(cid)
            if auto_ack:
                self._settle(cid, "auto-acked")
            else:
                self.where[cid] = ("unacked", s.key, d.delivery_tag)
                s.unacked[d.delivery_tag] = (cid, None)
        self._finish()

    @rule(slot=slots, queue=any_queue, auto_ack=st.booleans(), prefetch=st.integers(0, 3))
    def consume(self, slot, queue, auto_ack, prefetch):
        self._begin()
        s = self.slots[slot]
        tag = f"ct{next(self.ctag_counter)}"
        s.consumer_queue[tag] = (queue, auto_ack)
        s.channel.basic_qos(prefetch_count=prefetch)
        callback = s.observed.append if s.inline else None
        if queue not in self.declared:
            try:
                s.channel.basic_consume(queue, callback, auto_ack=auto_ack, consumer_tag=tag)
                raise AssertionError("consume from a missing queue succeeded")
            except NotFound:
                pass
            self._close_slot(s)
        else:
            assert s.channel.basic_consume(queue, callback, auto_ack=auto_ack, consumer_tag=tag) == tag
            s.consumers[tag] = (queue, auto_ack, prefetch)
        self._finish()

    def _pick_tag(self, slot: Slot, data) -> int:
        return data.draw(st.sampled_from(sorted(slot.unacked)))

    def _take(self, slot: Slot, tag: int, multiple: bool) -> list[int]:
        tags = [t for t in sorted(slot.unacked) if t <= tag] if multiple else [tag]
        if multiple and tag == 0:
            tags = sorted(slot.unacked)
        return [slot.unacked.pop(t)[0] for t in tags]

    @precondition(lambda self: any(s.unacked for s in self.slots.values()))
    @rule(data=st.data(), multiple=st.booleans())
    def ack(self, data, multiple):
        self._begin()
        s = data.draw(st.sampled_from([s for s in self.slots.values() if s.unacked]))
        tag = 0 if multiple and data.draw(st.booleans()) else self._pick_tag(s, data)
        s.channel.basic_ack(tag, multiple=multiple)
        for cid in self._take(s, tag, multiple):
            self._settle(cid, "acked")
        self._finish()

    @precondition(lambda self: any(s.unacked for s in self.slots.values()))
    @rule(data=st.data(), multiple=st.booleans(), requeue=st.booleans(), reject=st.booleans())
    def nack(self, data, multiple, requeue, reject):
        self._begin()
        s = data.draw(st.sampled_from([s for s in self.slots.values() if s.unacked]))
        tag = self._pick_tag(s, data)
        if reject:
            multiple = False
            s.channel.basic_reject(tag, requeue=requeue)
        else:
            s.channel.basic_nack(tag, multiple=multiple, requeue=requeue)
        for cid in self._take(s, tag, multiple):  # ascending tag order
            if requeue:
                self._requeue(cid)
            else:
                self._discard(cid)
        self._finish()

    @rule(slot=slots, kind=st.sampled_from(["unknown_tag", "close_channel", "close_connection", "hard_error"]))
    def disrupt(self, slot, kind):
        """Closing things (rarer than the other rules): every unacked message goes back to its queue."""
        if kind == "close_connection":
            self.close_connection(slot[0])
        else:
            getattr(self, kind)(slot)

    def unknown_tag(self, slot):
        """A soft error: 406 closes the channel, which requeues what it held."""
        self._begin()
        s = self.slots[slot]
        bad = s.next_tag + 100
        try:
            s.channel.basic_ack(bad)
            raise AssertionError("ack of an unknown tag succeeded")
        except PreconditionFailed as error:
            assert error.reply_text == f"PRECONDITION_FAILED - unknown delivery tag {bad}"
        self._close_slot(s)
        self._finish()

    @rule(slot=slots)
    def recover(self, slot):
        self._begin()
        s = self.slots[slot]
        s.channel.basic_recover(requeue=True)
        for tag in sorted(s.unacked):
            self._requeue(s.unacked[tag][0])
        s.unacked.clear()
        self._finish()

    @precondition(lambda self: any(s.consumers for s in self.slots.values()))
    @rule(data=st.data())
    def cancel(self, data):
        self._begin()
        s = data.draw(st.sampled_from([s for s in self.slots.values() if s.consumers]))
        tag = data.draw(st.sampled_from(sorted(s.consumers)))
        s.channel.basic_cancel(tag)
        del s.consumers[tag]  # its unacked deliveries stay on the channel
        self._finish()

    def close_channel(self, slot):
        self._begin()
        s = self.slots[slot]
        s.channel.close()
        self._close_slot(s)
        self._finish()

    def close_connection(self, i):
        self._begin()
        self._close_connection(i)
        self.connections[i].close()
        self._finish()

    def hard_error(self, slot):
        """540 closes the whole connection: both of its channels requeue."""
        self._begin()
        s = self.slots[slot]
        i = s.key[0]
        self._close_connection(i)
        try:
            s.channel.basic_recover(requeue=False)
            raise AssertionError("basic_recover(requeue=False) succeeded")
        except NotImplementedByServer as error:
            assert error.reply_text == "NOT_IMPLEMENTED - requeue=false"
        assert self.connections[i].is_closed
        self._finish()

    # -- invariants --------------------------------------------------------------------------------
    @invariant()
    def broker_invariants_hold(self):
        self.broker._check()

    @invariant()
    def ready_messages_match(self):
        for q in ALL_QUEUES:
            queue = self.broker.get_queue(q)
            expected = [self.copies[c].body for c in sorted(self.ready[q], key=lambda c: self.copies[c].seq)]
            if queue is None:
                assert q not in self.declared and not expected
                continue
            assert [m.body for m in queue.ready_messages()] == expected, q
            assert queue.message_count == len(expected), q
            consumers = sum(1 for s in self.slots.values() for cq, _, _ in s.consumers.values() if cq == q)
            assert queue.consumer_count == consumers, q

    @invariant()
    def unacked_match(self):
        for slot in self.slots.values():
            assert slot.channel.is_open
            actual = {tag: d.body for tag, d in slot.channel._unacked.items()}
            expected = {tag: self.copies[cid].body for tag, (cid, _) in slot.unacked.items()}
            assert actual == expected, slot.key
            assert slot.channel.unacked_count == len(expected)

    @invariant()
    def every_copy_in_exactly_one_place(self):
        ready = sum(len(r) for r in self.ready.values())
        unacked = sum(len(s.unacked) for s in self.slots.values())
        settled = sum(self.settled.values())
        assert ready + unacked + settled == len(self.copies)
        places = {}
        for q, cids in self.ready.items():
            for cid in cids:
                places[cid] = ("ready", q)
        for slot in self.slots.values():
            for tag, (cid, _) in slot.unacked.items():
                assert cid not in places, f"{self.copies[cid]} is in two places"
                places[cid] = ("unacked", slot.key, tag)
        for cid, where in self.where.items():
            if where[0] == "settled":
                assert cid not in places
            else:
                assert places[cid] == where

    @invariant()
    def dispatch_is_work_conserving_and_respects_prefetch(self):
        for slot in self.slots.values():
            for tag, (queue, auto_ack, prefetch) in slot.consumers.items():
                load = self._consumer_load(slot, tag)
                if not auto_ack and prefetch:
                    assert load <= prefetch, (slot.key, tag, load, prefetch)
                has_capacity = auto_ack or not prefetch or load < prefetch
                if has_capacity:
                    assert not self.ready[queue], f"{queue} has ready messages while {tag} has capacity"

    def teardown(self):
        self.broker.close()


BrokerMachine.TestCase.settings = settings(
    max_examples=100, stateful_step_count=50, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestBrokerStateMachine = BrokerMachine.TestCase

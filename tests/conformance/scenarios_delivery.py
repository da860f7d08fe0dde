"""Delivery: get/ack/nack/reject, delivery tags, prefetch and round-robin, recover, cancel, close,
exclusive consumers, consumer priorities, single active consumer, server-side cancel, direct reply-to,
and pika's consume() generator."""

from __future__ import annotations

from .harness import Collector, bodies, scenario, settle, wait_count


def setup_queue(env, trace, n, name="q", arguments=None, prefix="m"):
    """A connection, a channel, a fresh queue holding ``n`` confirmed messages m0..m<n-1>."""
    conn = env.connect()
    ch = conn.channel()
    q = env.unique(name)
    ch.queue_declare(q, arguments=arguments)
    if n:
        pub = conn.channel()
        pub.confirm_delivery()
        for i in range(n):
            pub.basic_publish("", q, b"%s%d" % (prefix.encode(), i))
        pub.close()
    return conn, ch, q


def short(res):
    """(tag, redelivered, body) of a basic_get result, or None for GetEmpty."""
    m, _p, b = res
    if m is None:
        return None
    return [m.delivery_tag, m.redelivered, b]


def get_short(trace, label, ch, q, auto_ack=False):
    res = ch.basic_get(q, auto_ack=auto_ack)
    trace.log(label, short(res))
    return res


# ------------------------------------------------------------------------------------------------
# get / ack / nack / reject


@scenario
def scenario_get_and_ack(env, trace):
    conn, ch, q = setup_queue(env, trace, 3)
    trace.call("get 1", ch.basic_get, q)
    trace.call("get 2", ch.basic_get, q)
    trace.call("count: unacked excluded", ch.queue_declare, q, passive=True)
    trace.call("ack 1", ch.basic_ack, 1)
    trace.call("get 3 auto_ack", ch.basic_get, q, auto_ack=True)
    trace.call("get empty", ch.basic_get, q)
    trace.call("ack 2", ch.basic_ack, 2)
    trace.call("close channel", ch.close)
    c2 = conn.channel()
    trace.call("nothing requeued", c2.queue_declare, q, passive=True)


@scenario
def scenario_nack_requeue_original_position(env, trace):
    conn, ch, q = setup_queue(env, trace, 5)
    for i in range(3):
        get_short(trace, "get %d" % i, ch, q)
    trace.call("nack tag 2 requeue", ch.basic_nack, 2)
    trace.call("reject tag 1 requeue", ch.basic_reject, 1)
    env.barrier()
    trace.call("count", ch.queue_declare, q, passive=True)
    for i in range(4):
        get_short(trace, "after requeue get %d" % i, ch, q)
    trace.call("nack tag 4 (was m0) requeue again", ch.basic_nack, 4, requeue=True)
    get_short(trace, "m0 again", ch, q)
    trace.call("nack 8 requeue=False (discard)", ch.basic_nack, 8, requeue=False)
    trace.call("reject 5 requeue=False", ch.basic_reject, 5, requeue=False)
    env.barrier()
    trace.call("count", ch.queue_declare, q, passive=True)
    get_short(trace, "remaining", ch, q)
    get_short(trace, "remaining", ch, q)


@scenario
def scenario_ack_nack_multiple(env, trace):
    conn, ch, q = setup_queue(env, trace, 6)
    for i in range(6):
        get_short(trace, "get %d" % i, ch, q)
    trace.call("ack multiple up to 2", ch.basic_ack, 2, multiple=True)
    trace.call("nack multiple up to 5, requeue", ch.basic_nack, 5, multiple=True)
    env.barrier()
    trace.call("count", ch.queue_declare, q, passive=True)
    for i in range(4):
        get_short(trace, "requeued in original order %d" % i, ch, q)
    trace.call("ack 0 multiple: everything outstanding", ch.basic_ack, 0, multiple=True)
    trace.call("ack 0 multiple again: nothing outstanding", ch.basic_ack, 0, multiple=True)
    env.barrier()
    trace.call("count", ch.queue_declare, q, passive=True)
    trace.call("close", ch.close)
    c2 = conn.channel()
    trace.call("count after close: nothing requeued", c2.queue_declare, q, passive=True)


@scenario
def scenario_nack_multiple_zero_requeue(env, trace):
    conn, ch, q = setup_queue(env, trace, 3)
    for i in range(3):
        get_short(trace, "get %d" % i, ch, q)
    trace.call("nack 0 multiple requeue", ch.basic_nack, 0, multiple=True, requeue=True)
    env.barrier()
    trace.call("count", ch.queue_declare, q, passive=True)
    for i in range(3):
        get_short(trace, "again %d" % i, ch, q, auto_ack=True)


@scenario
def scenario_unknown_delivery_tag(env, trace):
    conn, ch, q = setup_queue(env, trace, 2)
    sib = conn.channel()
    get_short(trace, "get", ch, q)
    trace.call("ack 99 (async)", ch.basic_ack, 99)
    trace.state("right after ack", ch)
    trace.call("next sync call", ch.queue_declare, q, passive=True)
    trace.state("after", ch)
    trace.call("call after close", ch.queue_purge, q)
    trace.call("publish after close", ch.basic_publish, "", q, b"x")
    trace.call("ack after close", ch.basic_ack, 1)
    env.barrier()
    trace.call("sibling: the held message was requeued", sib.queue_declare, q, passive=True)
    get_short(trace, "sibling get", sib, q, auto_ack=True)


@scenario
def scenario_ack_errors(env, trace):
    conn, ch, q = setup_queue(env, trace, 6)
    probe = lambda c: c.queue_declare(q, passive=True)  # noqa: E731
    cases = []

    def double_ack(c):
        m = c.basic_get(q)[0]
        c.basic_ack(m.delivery_tag)
        c.basic_ack(m.delivery_tag)
        return probe(c)

    def ack_zero(c):
        c.basic_get(q)
        c.basic_ack()
        return probe(c)

    def ack_auto_acked(c):
        m = c.basic_get(q, auto_ack=True)[0]
        c.basic_ack(m.delivery_tag)
        return probe(c)

    def ack_multiple_unknown(c):
        c.basic_get(q)
        c.basic_get(q)
        c.basic_ack(1)
        c.basic_ack(1, multiple=True)
        return probe(c)

    def nack_unknown(c):
        c.basic_nack(7, requeue=False)
        return probe(c)

    def reject_unknown(c):
        c.basic_reject(3)
        return probe(c)

    cases = [("double ack", double_ack), ("ack()", ack_zero), ("ack auto-acked get", ack_auto_acked),
             ("ack multiple with settled tag", ack_multiple_unknown), ("nack unknown", nack_unknown),
             ("reject unknown", reject_unknown)]
    for label, fn in cases:
        c = conn.channel()
        trace.call(label, fn, c)
        trace.state(label + ": channel", c)
    env.barrier()
    trace.call("count: all unacked returned", ch.queue_declare, q, passive=True)


@scenario
def scenario_ack_on_other_channel(env, trace):
    conn, ch, q = setup_queue(env, trace, 1)
    other = conn.channel()
    get_short(trace, "get on ch", ch, q)
    trace.call("ack tag 1 on other channel", other.basic_ack, 1)
    trace.call("other: next call", other.queue_declare, q, passive=True)
    trace.state("other", other)
    trace.state("ch", ch)
    trace.call("ch still holds it: ack", ch.basic_ack, 1)
    env.barrier()
    trace.call("ch count", ch.queue_declare, q, passive=True)


@scenario
def scenario_delivery_tags_per_channel(env, trace):
    conn, ch, q = setup_queue(env, trace, 6)
    c2 = conn.channel()
    get_short(trace, "ch get", ch, q, auto_ack=True)
    get_short(trace, "ch get", ch, q)
    get_short(trace, "c2 get", c2, q)
    get_short(trace, "ch get", ch, q, auto_ack=True)
    get_short(trace, "c2 get", c2, q, auto_ack=True)
    trace.call("ch nack 2 requeue", ch.basic_nack, 2)
    get_short(trace, "ch get requeued: new tag", ch, q)
    col = Collector("c")
    c2.basic_consume(q, col, auto_ack=True)
    wait_count(env, conn, col, 2)
    col.log_short(trace, "c2 consumer tags continue the channel's count")


# ------------------------------------------------------------------------------------------------
# consumers, prefetch, round-robin


@scenario
def scenario_round_robin_one_channel(env, trace):
    conn, ch, q = setup_queue(env, trace, 0)
    cols = [Collector("c%d" % i) for i in range(3)]
    for i, c in enumerate(cols):
        trace.call("consume c%d" % i, ch.basic_consume, q, c, auto_ack=True, consumer_tag="c%d" % i)
    pub = conn.channel()
    pub.confirm_delivery()
    for i in range(7):
        pub.basic_publish("", q, b"m%d" % i)
    wait_count(env, conn, cols, 7)
    for c in cols:
        c.log_short(trace, "got by %s" % c.name)


@scenario
def scenario_prefetch_per_consumer(env, trace):
    conn, ch, q = setup_queue(env, trace, 0)
    trace.call("qos 1", ch.basic_qos, prefetch_count=1)
    a, b = Collector("a"), Collector("b")
    ch.basic_consume(q, a, consumer_tag="a")
    ch.basic_consume(q, b, consumer_tag="b")
    pub = conn.channel()
    pub.confirm_delivery()
    for i in range(5):
        pub.basic_publish("", q, b"m%d" % i)
    wait_count(env, conn, [a, b], 2)
    settle(env, conn)
    a.log_short(trace, "a")
    b.log_short(trace, "b")
    trace.call("count: 3 ready", pub.queue_declare, q, passive=True)
    trace.call("b acks", ch.basic_ack, b.items[0][0].delivery_tag)
    wait_count(env, conn, [a, b], 3)
    settle(env, conn)
    a.log_short(trace, "a")
    b.log_short(trace, "b")
    trace.call("a acks", ch.basic_ack, a.items[0][0].delivery_tag)
    wait_count(env, conn, [a, b], 4)
    trace.call("b acks", ch.basic_ack, b.items[-1][0].delivery_tag)
    wait_count(env, conn, [a, b], 5)
    settle(env, conn)
    a.log_short(trace, "a")
    b.log_short(trace, "b")


@scenario
def scenario_prefetch_change_affects_new_consumers_only(env, trace):
    conn, ch, q = setup_queue(env, trace, 0)
    a, b = Collector("a"), Collector("b")
    trace.call("qos 1", ch.basic_qos, prefetch_count=1)
    ch.basic_consume(q, a, consumer_tag="a")
    trace.call("qos 3", ch.basic_qos, prefetch_count=3)
    ch.basic_consume(q, b, consumer_tag="b")
    pub = conn.channel()
    pub.confirm_delivery()
    for i in range(8):
        pub.basic_publish("", q, b"m%d" % i)
    wait_count(env, conn, [a, b], 4)
    settle(env, conn)
    a.log_short(trace, "a (prefetch 1)")
    b.log_short(trace, "b (prefetch 3)")
    trace.call("qos 0 (does not lift existing limits)", ch.basic_qos, prefetch_count=0)
    settle(env, conn)
    trace.call("count", pub.queue_declare, q, passive=True)


@scenario
def scenario_prefetch_global(env, trace):
    conn, ch, q = setup_queue(env, trace, 0)
    trace.call("qos 3 global", ch.basic_qos, prefetch_count=3, global_qos=True)
    a, b = Collector("a"), Collector("b")
    ch.basic_consume(q, a, consumer_tag="a")
    ch.basic_consume(q, b, consumer_tag="b")
    pub = conn.channel()
    pub.confirm_delivery()
    for i in range(6):
        pub.basic_publish("", q, b"m%d" % i)
    wait_count(env, conn, [a, b], 3)
    settle(env, conn)
    trace.log("delivered in total", len(a) + len(b))
    trace.call("count", pub.queue_declare, q, passive=True)
    trace.call("ack everything so far", ch.basic_ack, 0, multiple=True)
    wait_count(env, conn, [a, b], 6)
    settle(env, conn)
    trace.log("delivered in total", len(a) + len(b))
    trace.log("bodies", sorted(x[2] for x in a.items + b.items))


@scenario
def scenario_prefetch_global_and_per_consumer(env, trace):
    conn, ch, q = setup_queue(env, trace, 0)
    trace.call("qos 1 per consumer", ch.basic_qos, prefetch_count=1)
    trace.call("qos 5 global", ch.basic_qos, prefetch_count=5, global_qos=True)
    cols = [Collector("c%d" % i) for i in range(3)]
    for c in cols:
        ch.basic_consume(q, c, consumer_tag=c.name)
    pub = conn.channel()
    pub.confirm_delivery()
    for i in range(6):
        pub.basic_publish("", q, b"m%d" % i)
    wait_count(env, conn, cols, 3)
    settle(env, conn)
    for c in cols:
        c.log_short(trace, c.name)
    trace.call("count", pub.queue_declare, q, passive=True)


@scenario
def scenario_consume_existing_messages_up_to_prefetch(env, trace):
    conn, ch, q = setup_queue(env, trace, 5)
    trace.call("qos 2", ch.basic_qos, prefetch_count=2)
    a = Collector("a")
    trace.call("consume", ch.basic_consume, q, a, consumer_tag="a")
    wait_count(env, conn, a, 2)
    settle(env, conn)
    a.log(trace, "deliveries")
    trace.call("count", ch.queue_declare, q, passive=True)
    trace.call("ack multiple", ch.basic_ack, a.items[-1][0].delivery_tag, multiple=True)
    wait_count(env, conn, a, 4)
    settle(env, conn)
    a.log_short(trace, "after ack")


@scenario
def scenario_auto_ack_consumer(env, trace):
    conn, ch, q = setup_queue(env, trace, 3)
    trace.call("qos 1 (ignored by auto-ack consumers)", ch.basic_qos, prefetch_count=1)
    a = Collector("a")
    ch.basic_consume(q, a, auto_ack=True, consumer_tag="a")
    wait_count(env, conn, a, 3)
    a.log(trace, "deliveries")
    trace.call("close channel", ch.close)
    c2 = conn.channel()
    trace.call("nothing requeued", c2.queue_declare, q, passive=True)


@scenario
def scenario_start_consuming_stop(env, trace):
    conn, ch, q = setup_queue(env, trace, 4)
    seen = []

    def cb(c, method, props, body):
        seen.append([method.delivery_tag, body])
        c.basic_ack(method.delivery_tag)
        if len(seen) == 3:
            c.stop_consuming()

    trace.call("qos 1", ch.basic_qos, prefetch_count=1)
    trace.call("consume", ch.basic_consume, q, cb, consumer_tag="t")
    trace.call("start_consuming", ch.start_consuming)
    trace.log("seen", seen)
    trace.log("consumer_tags after stop_consuming", ch.consumer_tags)
    trace.call("close channel", ch.close)
    trace.call("count", conn.channel().queue_declare, q, passive=True)


@scenario
def scenario_duplicate_consumer_tag(env, trace):
    conn, ch, q = setup_queue(env, trace, 0)
    trace.call("consume tag t", ch.basic_consume, q, lambda *a: None, consumer_tag="t")
    trace.call("consume tag t again", ch.basic_consume, q, lambda *a: None, consumer_tag="t")
    trace.state("channel", ch)
    c2 = conn.channel()
    trace.call("same tag on another channel", c2.basic_consume, q, lambda *a: None, consumer_tag="t")
    trace.call("count", ch.queue_declare, q, passive=True)
    trace.log("consumer_tags", ch.consumer_tags)
    tag = trace.call("generated tag", ch.basic_consume, q, lambda *a: None)
    trace.log("generated tag shape", tag.startswith("ctag1."))
    trace.call("cancel generated", ch.basic_cancel, tag)
    trace.call("cancel unknown tag", ch.basic_cancel, "nope")
    trace.call("cancel t", ch.basic_cancel, "t")
    trace.call("cancel t again", ch.basic_cancel, "t")
    trace.call("count", ch.queue_declare, q, passive=True)


@scenario
def scenario_consume_errors(env, trace):
    conn = env.connect()
    missing = env.unique("missing")
    for label, fn in [("consume missing queue", lambda c: c.basic_consume(missing, lambda *a: None)),
                      ("get missing queue", lambda c: c.basic_get(missing)),
                      ("consume x-priority str", lambda c: (c.queue_declare(env.unique("q")),
                                                            c.basic_consume(env.unique("q"), lambda *a: None,
                                                                            arguments={"x-priority": "high"})))]:
        c = conn.channel()
        trace.call(label, fn, c)
        trace.state(label + ": channel", c)
        trace.log(label + ": consumer_tags", c.consumer_tags)


# ------------------------------------------------------------------------------------------------
# cancel / recover / close


@scenario
def scenario_basic_cancel_returns(env, trace):
    conn, ch, q = setup_queue(env, trace, 3)
    a = Collector("a")
    trace.call("consume manual ack", ch.basic_consume, q, a, consumer_tag="manual")
    trace.call("sync call on the channel (deliveries now pending in pika)", ch.basic_qos, prefetch_count=0)
    trace.call("cancel manual: pending deliveries rejected with requeue", ch.basic_cancel, "manual")
    trace.log("callback never ran", len(a))
    trace.log("consumer_tags", ch.consumer_tags)
    # The server may redeliver the rejected messages to the consumer before it processes the cancel;
    # pika drops such late deliveries, leaving them unacked on the channel until it closes.  Closing
    # the channel makes the outcome deterministic.
    trace.call("close channel", ch.close)
    c2 = conn.channel()
    trace.call("count", c2.queue_declare, q, passive=True)
    b = Collector("b")
    trace.call("consume auto ack", c2.basic_consume, q, b, auto_ack=True, consumer_tag="auto")
    trace.call("sync call on the channel", c2.basic_qos, prefetch_count=0)
    trace.call("cancel auto: pending deliveries returned", c2.basic_cancel, "auto")
    trace.log("callback never ran", len(b))
    trace.call("count", c2.queue_declare, q, passive=True)
    trace.log("consumer_tags", c2.consumer_tags)


@scenario
def scenario_cancel_keeps_unacked(env, trace):
    conn, ch, q = setup_queue(env, trace, 3)
    a = Collector("a")
    ch.basic_qos(prefetch_count=2)
    ch.basic_consume(q, a, consumer_tag="a")
    wait_count(env, conn, a, 2)
    trace.call("cancel after dispatch", ch.basic_cancel, "a")
    a.log_short(trace, "dispatched")
    trace.call("count: unacked stay with the channel", ch.queue_declare, q, passive=True)
    trace.call("ack after cancel", ch.basic_ack, a.items[0][0].delivery_tag)
    trace.call("count", ch.queue_declare, q, passive=True)
    trace.call("close channel", ch.close)
    c2 = conn.channel()
    trace.call("count: the other one requeued", c2.queue_declare, q, passive=True)
    for i in range(2):
        get_short(trace, "get %d" % i, c2, q, auto_ack=True)


@scenario
def scenario_basic_recover(env, trace):
    conn, ch, q = setup_queue(env, trace, 4)
    for i in range(3):
        get_short(trace, "get %d" % i, ch, q)
    trace.call("ack 2", ch.basic_ack, 2)
    trace.call("recover requeue=True", ch.basic_recover, requeue=True)
    env.barrier()
    trace.call("count", ch.queue_declare, q, passive=True)
    for i in range(4):
        get_short(trace, "after recover %d" % i, ch, q)
    trace.call("old tag now unknown? ack 1", ch.basic_ack, 1)
    trace.call("next call", ch.queue_declare, q, passive=True)


@scenario
def scenario_basic_recover_default_requeue_false(env, trace):
    conn, ch, q = setup_queue(env, trace, 1)
    c2 = conn.channel()
    get_short(trace, "get", ch, q)
    trace.call("basic_recover() (requeue=False)", ch.basic_recover)
    trace.state("channel", ch)
    trace.state("connection", conn)
    trace.call("sibling", c2.queue_declare, q, passive=True)
    c = env.connect().channel()
    env.barrier()
    trace.call("message requeued", c.queue_declare, q, passive=True)


@scenario
def scenario_channel_close_requeues(env, trace):
    conn, ch, q = setup_queue(env, trace, 5)
    for i in range(3):
        get_short(trace, "get %d" % i, ch, q)
    trace.call("ack middle", ch.basic_ack, 2)
    c = conn.channel()
    a = Collector("a")
    c.basic_qos(prefetch_count=1)
    c.basic_consume(q, a, consumer_tag="a")
    wait_count(env, conn, a, 1)
    a.log_short(trace, "consumer holds")
    trace.call("close get channel", ch.close)
    trace.call("close consumer channel", c.close)
    c2 = conn.channel()
    trace.call("count", c2.queue_declare, q, passive=True)
    for i in range(5):
        get_short(trace, "get %d" % i, c2, q, auto_ack=True)


@scenario
def scenario_connection_close_requeues(env, trace):
    conn, ch, q = setup_queue(env, trace, 3)
    other = env.connect()
    oc = other.channel()
    get_short(trace, "other get", oc, q)
    get_short(trace, "other get", oc, q)
    trace.call("close other connection", other.close)
    trace.state("other connection", other)
    trace.call("channel call on closed connection", oc.basic_get, q)
    trace.call("conn.channel() on closed connection", other.channel)
    trace.call("conn.close() again", other.close)
    env.barrier()
    trace.call("count", ch.queue_declare, q, passive=True)
    for i in range(3):
        get_short(trace, "get %d" % i, ch, q, auto_ack=True)


@scenario
def scenario_channel_close_twice_and_reopen(env, trace):
    conn = env.connect()
    ch = conn.channel()
    trace.log("channel number", ch.channel_number)
    trace.call("close", ch.close)
    trace.state("closed channel", ch)
    trace.call("close again", ch.close)
    trace.call("call on closed channel", ch.queue_declare, env.unique("q"))
    c1 = conn.channel()
    c2 = conn.channel()
    trace.log("numbers reused lowest first", [c1.channel_number, c2.channel_number])
    c1.close()
    c3 = conn.channel()
    trace.log("reuse", c3.channel_number)
    trace.call("flow(True)", c3.flow, True)


@scenario
def scenario_flow_and_qos_not_implemented(env, trace):
    conn = env.connect()
    ch = conn.channel()
    trace.call("flow(False)", ch.flow, False)
    trace.state("connection", conn)
    conn = env.connect()
    ch = conn.channel()
    trace.call("qos prefetch_size=10", ch.basic_qos, prefetch_size=10)
    trace.state("connection", conn)


# ------------------------------------------------------------------------------------------------
# exclusive consumers, priorities, SAC, server cancel


@scenario
def scenario_exclusive_consumer(env, trace):
    conn, ch, q = setup_queue(env, trace, 2)
    other = env.connect()
    trace.call("exclusive consume", ch.basic_consume, q, lambda *a: None, exclusive=True, consumer_tag="ex")
    for label, fn in [("other connection consume", lambda c: c.basic_consume(q, lambda *a: None)),
                      ("other connection exclusive consume", lambda c: c.basic_consume(q, lambda *a: None,
                                                                                       exclusive=True)),
                      ("same connection other channel consume", None)]:
        c = (conn if fn is None else other).channel()
        fn = fn or (lambda c: c.basic_consume(q, lambda *a: None))
        trace.call(label, fn, c)
        trace.state(label + ": channel", c)
    g = other.channel()
    trace.call("basic_get still works (nothing ready: consumer took all)", g.basic_get, q)
    trace.call("cancel exclusive consumer", ch.basic_cancel, "ex")
    c = other.channel()
    trace.call("now a normal consumer", c.basic_consume, q, lambda *a: None, consumer_tag="n")
    c4 = conn.channel()
    trace.call("exclusive consume while a consumer exists", c4.basic_consume, q, lambda *a: None, exclusive=True)
    trace.state("channel", c4)


@scenario
def scenario_consumer_priority(env, trace):
    conn, ch, q = setup_queue(env, trace, 0)
    ch.basic_qos(prefetch_count=1)
    lo, hi, mid = Collector("lo"), Collector("hi"), Collector("mid")
    ch.basic_consume(q, lo, consumer_tag="lo", arguments={"x-priority": -5})
    ch.basic_consume(q, hi, consumer_tag="hi", arguments={"x-priority": 10})
    ch.basic_consume(q, mid, consumer_tag="mid")
    pub = conn.channel()
    pub.confirm_delivery()
    for i in range(5):
        pub.basic_publish("", q, b"m%d" % i)
    wait_count(env, conn, [lo, hi, mid], 3)
    settle(env, conn)
    for c in (hi, mid, lo):
        c.log_short(trace, c.name)
    trace.call("hi acks", ch.basic_ack, hi.items[0][0].delivery_tag)
    wait_count(env, conn, [lo, hi, mid], 4)
    settle(env, conn)
    trace.call("lo acks", ch.basic_ack, lo.items[0][0].delivery_tag)
    settle(env, conn)
    for c in (hi, mid, lo):
        c.log_short(trace, c.name)
    trace.call("count", pub.queue_declare, q, passive=True)


@scenario
def scenario_single_active_consumer(env, trace):
    conn, ch, q = setup_queue(env, trace, 0, arguments={"x-single-active-consumer": True})
    a, b = Collector("a"), Collector("b")
    c1 = conn.channel()
    c2 = conn.channel()
    c1.basic_qos(prefetch_count=2)
    c2.basic_qos(prefetch_count=2)
    trace.call("consume a", c1.basic_consume, q, a, consumer_tag="a")
    trace.call("consume b", c2.basic_consume, q, b, consumer_tag="b")
    trace.call("count: both consumers counted", ch.queue_declare, q, passive=True)
    pub = conn.channel()
    pub.confirm_delivery()
    for i in range(5):
        pub.basic_publish("", q, b"m%d" % i)
    wait_count(env, conn, [a, b], 2)
    settle(env, conn)
    a.log_short(trace, "a")
    b.log_short(trace, "b")
    trace.call("a acks first", c1.basic_ack, a.items[0][0].delivery_tag)
    wait_count(env, conn, [a, b], 3)
    settle(env, conn)
    trace.call("close a's channel (its unacked go back first)", c1.close)
    wait_count(env, conn, [a, b], 5)
    settle(env, conn)
    a.log_short(trace, "a")
    b.log_short(trace, "b")
    c3 = conn.channel()
    trace.call("exclusive consume on SAC queue", c3.basic_consume, q, lambda *x: None, exclusive=True)


@scenario
def scenario_queue_deleted_cancels_consumer(env, trace):
    conn, ch, q = setup_queue(env, trace, 2)
    cancels = []
    trace.call("add_on_cancel_callback", ch.add_on_cancel_callback, lambda frame: cancels.append(frame))
    a = Collector("a")
    ch.basic_consume(q, a, consumer_tag="a")
    wait_count(env, conn, a, 2)
    a.log_short(trace, "delivered")
    trace.log("consumer_tags before", ch.consumer_tags)
    deleter = env.connect().channel()
    trace.call("delete queue elsewhere", deleter.queue_delete, q)
    env.wait_for(conn, lambda: len(cancels) == 1)
    trace.log("on_cancel callback frames", cancels)
    trace.log("consumer_tags after", ch.consumer_tags)
    trace.state("channel", ch)
    trace.call("ack message of deleted queue", ch.basic_ack, a.items[0][0].delivery_tag)
    trace.call("nack the other", ch.basic_nack, a.items[1][0].delivery_tag)
    trace.call("cancel the cancelled tag", ch.basic_cancel, "a")
    trace.call("channel still fine", ch.queue_declare, env.unique("probe"), auto_delete=True)


@scenario
def scenario_queue_deleted_consume_generator(env, trace):
    conn, ch, q = setup_queue(env, trace, 1)
    deleter = conn.channel()
    gen = ch.consume(q, auto_ack=True, inactivity_timeout=0.5)
    trace.log("first", list(next(gen)))
    trace.call("delete queue on a sibling channel", deleter.queue_delete, q)
    rest = []
    for item in gen:
        rest.append(list(item))
        if len(rest) > 3:
            break
    trace.log("generator after server cancel", rest)
    trace.call("cancel() after server cancel", ch.cancel)
    trace.state("channel", ch)


# ------------------------------------------------------------------------------------------------
# consume() generator


@scenario
def scenario_consume_generator(env, trace):
    conn, ch, q = setup_queue(env, trace, 3)
    out = []
    for method, props, body in ch.consume(q, inactivity_timeout=0.3):
        if method is None:
            out.append(None)
            break
        out.append([method.delivery_tag, method.redelivered, method.consumer_tag, body])
        if len(out) == 2:
            ch.basic_ack(method.delivery_tag, multiple=True)
    trace.log("yielded", out)
    trace.call("get_waiting_message_count", ch.get_waiting_message_count)
    trace.call("cancel", ch.cancel)
    trace.call("close channel (late redeliveries to the cancelled consumer are requeued)", ch.close)
    c2 = conn.channel()
    trace.call("count: third requeued", c2.queue_declare, q, passive=True)
    get_short(trace, "third", c2, q, auto_ack=True)


@scenario
def scenario_consume_generator_cancel_pending(env, trace):
    conn, ch, q = setup_queue(env, trace, 4)
    gen = ch.consume(q)
    m, p, b = next(gen)
    trace.log("first", [m.delivery_tag, b])
    trace.call("sync call: the rest arrive", ch.basic_qos, prefetch_count=0)
    trace.call("get_waiting_message_count", ch.get_waiting_message_count)
    trace.call("cancel", ch.cancel)
    trace.call("ack first after cancel", ch.basic_ack, m.delivery_tag)
    trace.call("cancel again", ch.cancel)
    trace.call("close channel", ch.close)
    c2 = conn.channel()
    trace.call("count", c2.queue_declare, q, passive=True)
    bodies(trace, "remaining", c2, q)


@scenario
def scenario_consume_generator_arguments(env, trace):
    conn, ch, q = setup_queue(env, trace, 2)
    gen = ch.consume(q, auto_ack=True, exclusive=True, arguments={"x-priority": 3}, inactivity_timeout=0.2,
                     consumer_tag="gen-tag")
    items = [next(gen), next(gen), next(gen)]
    trace.log("items", [[m.consumer_tag, b] if m else None for m, _p, b in items])
    c2 = conn.channel()
    trace.call("second consumer vs exclusive generator", c2.basic_consume, q, lambda *a: None)
    trace.call("consume again with other args while active", lambda: next(ch.consume(q, auto_ack=False)))
    trace.call("cancel", ch.cancel)


# ------------------------------------------------------------------------------------------------
# direct reply-to (docs/semantics.md §15)


@scenario
def scenario_direct_reply_to(env, trace):
    client = env.connect()
    cch = client.channel()
    server = env.connect()
    sch = server.channel()
    rq = env.unique("rpc")
    sch.queue_declare(rq)
    replies = Collector("replies")
    trace.call("consume reply-to", cch.basic_consume, "amq.rabbitmq.reply-to", replies, auto_ack=True,
               consumer_tag="rt")
    trace.call("declare pseudo queue", cch.queue_declare, "amq.rabbitmq.reply-to")
    cch.confirm_delivery()
    P = env.pika.BasicProperties
    trace.call("request 1", cch.basic_publish, "", rq, b"req1", P(reply_to="amq.rabbitmq.reply-to",
                                                                   correlation_id="c1"))
    trace.call("request 2", cch.basic_publish, "", rq, b"req2", P(reply_to="amq.rabbitmq.reply-to",
                                                                   correlation_id="c2"))
    r1 = trace.call("server gets request 1", sch.basic_get, rq, auto_ack=True)
    r2 = trace.call("server gets request 2", sch.basic_get, rq, auto_ack=True)
    reply_to = r1[1].reply_to
    trace.call("declare token queue", sch.queue_declare, reply_to, passive=True)
    trace.call("declare token queue non-passive", sch.queue_declare, reply_to)
    sch.confirm_delivery()
    trace.call("reply 1", sch.basic_publish, "", reply_to, b"resp1", P(correlation_id="c1"))
    trace.call("reply 2 (mandatory)", sch.basic_publish, "", r2[1].reply_to, b"resp2",
               P(correlation_id="c2", reply_to="keep-me"), mandatory=True)
    wait_count(env, client, replies, 2)
    replies.log(trace, "replies")
    trace.call("client get on reply-to", cch.basic_get, "amq.rabbitmq.reply-to")


@scenario
def scenario_direct_reply_to_tags(env, trace):
    conn = env.connect()
    ch = conn.channel()
    q = env.unique("q")
    ch.queue_declare(q)
    replies = Collector("replies")
    ch.basic_consume("amq.rabbitmq.reply-to", replies, auto_ack=True, consumer_tag="rt")
    P = env.pika.BasicProperties
    ch.confirm_delivery()
    ch.basic_publish("", q, b"req", P(reply_to="amq.rabbitmq.reply-to"))
    m = ch.basic_get(q)
    trace.log("get tag", m[0].delivery_tag)
    token = m[1].reply_to
    other = conn.channel()
    other.basic_publish("", token, b"r1")
    other.basic_publish("", token, b"r2")
    wait_count(env, conn, replies, 2)
    replies.log_short(trace, "replies: tags do not advance")
    ch.basic_publish("", q, b"next")
    trace.call("next get tag", ch.basic_get, q, auto_ack=True)
    trace.call("cancel reply consumer", ch.basic_cancel, "rt")
    other.confirm_delivery()
    trace.call("reply to cancelled consumer (mandatory)", other.basic_publish, "", token, b"late", mandatory=True)
    trace.call("declare token after cancel", conn.channel().queue_declare, token, passive=True)
    trace.call("unknown token", conn.channel().queue_declare, "amq.rabbitmq.reply-to.bogus", passive=True)


@scenario
def scenario_direct_reply_to_errors(env, trace):
    conn = env.connect()
    q = env.unique("q")
    conn.channel().queue_declare(q)
    P = env.pika.BasicProperties
    c = conn.channel()
    trace.call("consume reply-to with ack", c.basic_consume, "amq.rabbitmq.reply-to", lambda *a: None)
    trace.state("channel", c)
    c = conn.channel()
    trace.call("publish with reply_to, no reply consumer", c.basic_publish, "", q, b"x",
               P(reply_to="amq.rabbitmq.reply-to"))
    trace.call("next sync call", c.queue_declare, q, passive=True)
    c = conn.channel()
    c.confirm_delivery()
    trace.call("same in confirm mode", c.basic_publish, "", q, b"x", P(reply_to="amq.rabbitmq.reply-to"))
    c = conn.channel()
    trace.call("first reply consumer", c.basic_consume, "amq.rabbitmq.reply-to", lambda *a: None, auto_ack=True,
               consumer_tag="r1")
    trace.call("second reply consumer", c.basic_consume, "amq.rabbitmq.reply-to", lambda *a: None, auto_ack=True,
               consumer_tag="r2")
    trace.state("channel", c)
    c = conn.channel()
    trace.call("get on reply-to", c.basic_get, "amq.rabbitmq.reply-to")
    c = conn.channel()
    trace.call("passive declare reply-to without consumer", c.queue_declare, "amq.rabbitmq.reply-to", passive=True)
    trace.call("exclusive durable declare reply-to", c.queue_declare, "amq.rabbitmq.reply-to", durable=True,
               exclusive=True)
    c2 = conn.channel()
    c2.confirm_delivery()
    trace.call("publish to amq.rabbitmq.reply-to itself", c2.basic_publish, "", "amq.rabbitmq.reply-to", b"x",
               mandatory=True)
    trace.call("count", conn.channel().queue_declare, q, passive=True)


@scenario
def scenario_prefetch_global_and_basic_get(env, trace):
    conn, ch, q = setup_queue(env, trace, 6)
    trace.call("qos 1 global", ch.basic_qos, prefetch_count=1, global_qos=True)
    a = Collector("a")
    ch.basic_consume(q, a, consumer_tag="a")
    wait_count(env, conn, a, 1)
    settle(env, conn)
    a.log_short(trace, "consumer (limit 1)")
    trace.call("basic_get ignores the limit", ch.basic_get, q)
    trace.call("basic_get again", ch.basic_get, q)
    b = Collector("b")
    c2 = conn.channel()
    trace.call("qos 1 global then qos 0 per-consumer", c2.basic_qos, prefetch_count=1, global_qos=True)
    trace.call("qos 0", c2.basic_qos, prefetch_count=0)
    c2.basic_consume(q, b, consumer_tag="b")
    wait_count(env, conn, b, 3)
    settle(env, conn)
    b.log_short(trace, "consumer after qos 0")


@scenario
def scenario_consume_generator_inactivity(env, trace):
    conn, ch, q = setup_queue(env, trace, 0)
    gen = ch.consume(q, inactivity_timeout=0.1)
    trace.log("nothing to consume", list(next(gen)))
    trace.log("again", list(next(gen)))
    pub = conn.channel()
    pub.confirm_delivery()
    pub.basic_publish("", q, b"late")
    m, p, b = next(gen)
    trace.log("then a message", [m.delivery_tag, m.redelivered, b])
    trace.call("ack", ch.basic_ack, m.delivery_tag)
    trace.call("cancel", ch.cancel)


@scenario
def scenario_acks_then_one_process_data_events(env, trace):
    """Two acks free two prefetch slots; the next process_data_events dispatches both new deliveries."""
    conn = env.connect()
    ch = conn.channel()
    q = env.unique("q")
    ch.queue_declare(q)
    for i in range(6):
        ch.basic_publish("", q, b"%d" % i)
    env.barrier(conn)
    ch.basic_qos(prefetch_count=2)
    seen = []
    ch.basic_consume(q, lambda c, m, p, b: seen.append([m.delivery_tag, b]))
    env.wait_for(conn, lambda: len(seen) == 2)
    trace.log("first two", seen)
    trace.call("ack 1", ch.basic_ack, 1)
    trace.call("ack 2", ch.basic_ack, 2)
    conn.process_data_events(time_limit=1)
    trace.log("after one process_data_events", seen)


@scenario
def scenario_quorum_exclusive_consume_not_enforced(env, trace):
    conn = env.connect()
    ch = conn.channel()
    q = env.unique("qq")
    ch.queue_declare(q, durable=True, arguments={"x-queue-type": "quorum"})
    trace.call("exclusive consumer", ch.basic_consume, q, lambda *a: None, exclusive=True, consumer_tag="a")
    trace.call("another consumer", conn.channel().basic_consume, q, lambda *a: None, consumer_tag="b")
    trace.call("another exclusive consumer", conn.channel().basic_consume, q, lambda *a: None, exclusive=True,
               consumer_tag="c")
    env.barrier(conn)
    trace.call("counts", conn.channel().queue_declare, q, passive=True)


@scenario
def scenario_prefetch_global_counts_unacked_get(env, trace):
    """A global limit set where there was none starts from the channel's unacked messages, gets included;
    settling the get never frees it; raising the limit keeps the count; lifting it resets it."""
    conn, ch, q = setup_queue(env, trace, 6)
    get_short(trace, "get (no ack)", ch, q)
    trace.call("qos 1 global", ch.basic_qos, prefetch_count=1, global_qos=True)
    a = Collector("a")
    ch.basic_consume(q, a, consumer_tag="a")
    settle(env, conn)
    a.log_short(trace, "nothing: the unacked get fills the limit")
    trace.call("ack the get", ch.basic_ack, 1)
    settle(env, conn)
    a.log_short(trace, "still nothing")
    trace.call("qos 3 global (limit raised, count kept)", ch.basic_qos, prefetch_count=3, global_qos=True)
    wait_count(env, conn, a, 2)
    settle(env, conn)
    a.log_short(trace, "two")
    trace.call("qos 0 global (lifted)", ch.basic_qos, prefetch_count=0, global_qos=True)
    wait_count(env, conn, a, 5)
    settle(env, conn)
    a.log_short(trace, "the rest")
    trace.call("count", ch.queue_declare, q, passive=True)


@scenario
def scenario_prefetch_global_set_again_recounts_unacked_get(env, trace):
    conn, ch, q = setup_queue(env, trace, 4)
    get_short(trace, "get (no ack)", ch, q)
    trace.call("qos 1 global", ch.basic_qos, prefetch_count=1, global_qos=True)
    trace.call("qos 0 global", ch.basic_qos, prefetch_count=0, global_qos=True)
    trace.call("qos 1 global again", ch.basic_qos, prefetch_count=1, global_qos=True)
    a = Collector("a")
    ch.basic_consume(q, a, consumer_tag="a")
    settle(env, conn)
    a.log_short(trace, "nothing: the get is still unacked")
    trace.call("reject the get (requeue)", ch.basic_reject, 1)
    settle(env, conn)
    a.log_short(trace, "still nothing")
    trace.call("per-consumer qos 2 (lifts the global limit)", ch.basic_qos, prefetch_count=2)
    wait_count(env, conn, a, 4)
    settle(env, conn)
    a.log_short(trace, "everything (the consumer was created without a limit)")


@scenario
def scenario_hard_error_closes_causing_channel_first(env, trace):
    """The channel whose method raised a connection error closes first: its unacked get is requeued
    while the other channel's no-ack consumer is still attached, and goes to it."""
    conn = env.connect()
    ch1 = conn.channel()
    ch2 = conn.channel()
    q = env.unique("q")
    ch1.queue_declare(q)
    ch1.confirm_delivery()
    ch1.basic_publish("", q, b"m")
    get_short(trace, "ch2 holds the only message", ch2, q)
    ch1.basic_consume(q, lambda *args: None, auto_ack=True, consumer_tag="c1")
    trace.call("ch2: exchange type x-bogus", ch2.exchange_declare, env.unique("x"), "x-bogus")
    trace.state("connection", conn)
    other = env.connect()
    env.barrier(other)
    trace.call("count: the message went to ch1's no-ack consumer", other.channel().queue_declare, q,
               passive=True)


@scenario
def scenario_prefetch_global_and_quorum_consumer(env, trace):
    """A quorum queue's consumer is not stopped by the global limit and does not add to its count; acking
    its deliveries takes them off the count (n at once, unless it is 0: it can go below 0)."""
    conn = env.connect()
    ch = conn.channel()
    qq = env.unique("qq")
    cq = env.unique("cq")
    ch.queue_declare(qq, durable=True, arguments={"x-queue-type": "quorum"})
    ch.queue_declare(cq)
    quorum, classic = Collector("quorum"), Collector("classic")
    ch.basic_consume(qq, quorum, consumer_tag="quorum")
    ch.basic_consume(cq, classic, consumer_tag="classic")
    trace.call("qos 1 global", ch.basic_qos, prefetch_count=1, global_qos=True)
    pub = conn.channel()
    pub.confirm_delivery()
    for i in range(3):
        pub.basic_publish("", qq, b"q%d" % i)
    wait_count(env, conn, quorum, 3)
    settle(env, conn)
    quorum.log_short(trace, "quorum consumer: all three")
    for i in range(5):
        pub.basic_publish("", cq, b"c%d" % i)
    wait_count(env, conn, classic, 1)
    settle(env, conn)
    classic.log_short(trace, "classic consumer: one")
    trace.call("ack quorum delivery 1", ch.basic_ack, 1)
    wait_count(env, conn, classic, 2)
    settle(env, conn)
    classic.log_short(trace, "classic consumer: one more")
    trace.call("ack quorum deliveries 2 and 3 (multiple)", ch.basic_ack, 3, multiple=True)
    wait_count(env, conn, classic, 4)
    settle(env, conn)
    classic.log_short(trace, "classic consumer: two more")
    trace.call("count", pub.queue_declare, cq, passive=True)

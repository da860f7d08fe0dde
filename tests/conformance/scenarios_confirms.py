"""Publisher confirms, mandatory returns, transactions and mode switches (docs/semantics.md §8, §16.2)."""

from __future__ import annotations

from .harness import Collector, bodies, scenario, settle, wait_count


@scenario
def scenario_confirm_basic(env, trace):
    conn = env.connect()
    ch = conn.channel()
    q = env.unique("q")
    ch.queue_declare(q)
    trace.call("publish before confirm mode", ch.basic_publish, "", q, b"plain")
    trace.call("confirm_delivery", ch.confirm_delivery)
    trace.call("confirm_delivery again", ch.confirm_delivery)
    trace.call("publish acked", ch.basic_publish, "", q, b"one")
    trace.call("unroutable, not mandatory: still acked", ch.basic_publish, "", env.unique("nowhere"), b"two")
    trace.call("publish to amq.direct, no binding", ch.basic_publish, "amq.direct", "nobody", b"three")
    trace.call("count", ch.queue_declare, q, passive=True)
    bodies(trace, "bodies", ch, q)


@scenario
def scenario_mandatory_unroutable_confirm(env, trace):
    conn = env.connect()
    ch = conn.channel()
    x = env.unique("x")
    ch.exchange_declare(x, "direct")
    ch.confirm_delivery()
    P = env.pika.BasicProperties
    trace.call("mandatory unroutable", ch.basic_publish, x, "nokey", b"body-1",
               P(content_type="text/plain", headers={"h": 1}, message_id="id1"), mandatory=True)
    trace.state("channel", ch)
    trace.call("mandatory to default exchange, missing queue", ch.basic_publish, "", env.unique("missing"), b"b2",
               mandatory=True)
    q = env.unique("q")
    ch.queue_declare(q)
    ch.queue_bind(q, x, routing_key="k")
    trace.call("mandatory routable", ch.basic_publish, x, "k", b"routed", mandatory=True)
    trace.call("channel still usable", ch.queue_declare, q, passive=True)


@scenario
def scenario_mandatory_without_confirms(env, trace):
    conn = env.connect()
    ch = conn.channel()
    returned = []
    trace.call("add_on_return_callback", ch.add_on_return_callback,
               lambda c, method, props, body: returned.append([method, props, body]))
    x = env.unique("x")
    ch.exchange_declare(x, "fanout")
    trace.call("mandatory unroutable, no confirms", ch.basic_publish, x, "rk", b"ret", mandatory=True)
    trace.log("returned before processing events", len(returned))
    trace.call("a sync call", ch.exchange_declare, x, passive=True)
    trace.log("returned after a sync call", len(returned))
    env.wait_for(conn, lambda: len(returned) == 1)
    trace.log("returned after process_data_events", returned)
    trace.call("non-mandatory unroutable", ch.basic_publish, x, "rk", b"dropped")
    conn.process_data_events(time_limit=0.1)
    trace.log("returned total", len(returned))


@scenario
def scenario_mandatory_confirm_with_return_callback(env, trace):
    conn = env.connect()
    ch = conn.channel()
    returned = []
    ch.add_on_return_callback(lambda c, m, p, b: returned.append(b))
    ch.confirm_delivery()
    trace.call("mandatory unroutable in confirm mode", ch.basic_publish, "amq.direct", env.unique("none"), b"r1",
               mandatory=True)
    conn.process_data_events(time_limit=0.1)
    trace.log("return callback also ran?", returned)


@scenario
def scenario_confirm_channel_errors(env, trace):
    conn = env.connect()
    ok = conn.channel()
    for label, exchange, props in [
        ("missing exchange", env.unique("missing"), None),
        ("bad expiration", "", env.pika.BasicProperties(expiration="abc")),
        ("wrong user_id", "", env.pika.BasicProperties(user_id="someone-else")),
    ]:
        c = conn.channel()
        c.confirm_delivery()
        trace.call(label, c.basic_publish, exchange, "k", b"x", props)
        trace.state(label + ": channel", c)
        trace.call(label + ": next call", c.basic_publish, "", "k", b"x")
    trace.call("sibling channel", ok.exchange_declare, "amq.direct", passive=True)


@scenario
def scenario_publish_missing_exchange_async(env, trace):
    conn = env.connect()
    ch = conn.channel()
    sib = conn.channel()
    missing = env.unique("missing")
    trace.call("publish to missing exchange (no confirms)", ch.basic_publish, missing, "k", b"x")
    trace.state("channel right after", ch)
    # (a second publish here is racy on a real server: pika may read the Channel.Close while writing it)
    trace.call("next sync call raises", ch.exchange_declare, "amq.direct", passive=True)
    trace.state("channel", ch)
    trace.call("sibling unaffected", sib.exchange_declare, "amq.direct", passive=True)


@scenario
def scenario_async_publish_error_raised_by_the_next_publish(env, trace):
    conn = env.connect()
    ch = conn.channel()
    q = env.unique("q")
    ch.queue_declare(q)
    trace.call("publish to missing exchange", ch.basic_publish, env.unique("missing"), "k", b"x")
    env.idle()
    trace.state("channel before the next call", ch)
    trace.call("next publish", ch.basic_publish, "", q, b"1")
    trace.state("channel", ch)
    trace.call("publish again", ch.basic_publish, "", q, b"2")
    c2 = conn.channel()
    trace.call("nothing was enqueued", c2.queue_declare, q, passive=True)


@scenario
def scenario_async_ack_error_raised_by_the_next_ack(env, trace):
    conn = env.connect()
    ch = conn.channel()
    q = env.unique("q")
    ch.queue_declare(q)
    for body in (b"a", b"b"):
        ch.basic_publish("", q, body)
    env.barrier(conn)
    first = ch.basic_get(q)
    ch.basic_get(q)
    trace.call("ack unknown tag", ch.basic_ack, first[0].delivery_tag + 40)
    env.idle()
    trace.call("ack a valid tag", ch.basic_ack, first[0].delivery_tag)
    trace.state("channel", ch)
    trace.call("nack", ch.basic_nack, 1)
    env.barrier(conn)
    c2 = conn.channel()
    trace.call("both messages back, ready", c2.queue_declare, q, passive=True)


@scenario
def scenario_async_error_read_by_a_publish_on_a_sibling(env, trace):
    conn = env.connect()
    ch = conn.channel()
    sib = conn.channel()
    q = env.unique("q")
    sib.queue_declare(q)
    trace.call("publish to missing exchange", ch.basic_publish, env.unique("missing"), "k", b"x")
    env.idle()
    trace.call("sibling publishes", sib.basic_publish, "", q, b"ok")
    trace.state("failed channel", ch)
    trace.state("sibling", sib)
    trace.call("failed channel publishes", ch.basic_publish, "", q, b"lost")
    env.barrier(conn)
    trace.call("one message", sib.queue_declare, q, passive=True)


@scenario
def scenario_async_error_seen_by_process_data_events(env, trace):
    conn = env.connect()
    ch = conn.channel()
    sib = conn.channel()
    trace.call("publish to missing exchange", ch.basic_publish, env.unique("missing"), "k", b"x")
    env.wait_for(conn, lambda: ch.is_closed)
    trace.state("after process_data_events: closed without exception", ch)
    trace.call("next call on the channel", ch.queue_declare, env.unique("q"))
    trace.call("sibling", sib.exchange_declare, "amq.direct", passive=True)


@scenario
def scenario_async_error_seen_by_sibling_blocking_call(env, trace):
    conn = env.connect()
    ch = conn.channel()
    sib = conn.channel()
    trace.call("ack unknown tag", ch.basic_ack, 42)
    env.barrier(conn)
    trace.call("sibling blocking call (processes the close frame)", sib.exchange_declare, "amq.direct",
               passive=True)
    trace.state("errored channel", ch)
    trace.call("next call on errored channel", ch.queue_declare, env.unique("q"))


@scenario
def scenario_tx_commit_rollback(env, trace):
    conn = env.connect()
    ch = conn.channel()
    q = env.unique("q")
    ch.queue_declare(q)
    obs = conn.channel()
    trace.call("tx_select", ch.tx_select)
    trace.call("tx_select again", ch.tx_select)
    ch.basic_publish("", q, b"t1")
    ch.basic_publish("", q, b"t2")
    trace.call("invisible before commit", obs.basic_get, q)
    trace.call("commit", ch.tx_commit)
    env.barrier(conn)
    trace.call("visible after commit", obs.queue_declare, q, passive=True)
    ch.basic_publish("", q, b"t3")
    trace.call("rollback", ch.tx_rollback)
    env.barrier(conn)
    trace.call("rolled back publish gone", obs.queue_declare, q, passive=True)
    trace.call("commit with nothing pending", ch.tx_commit)
    bodies(trace, "bodies", obs, q)


@scenario
def scenario_tx_acks(env, trace):
    conn = env.connect()
    ch = conn.channel()
    q = env.unique("q")
    ch.queue_declare(q)
    for i in range(4):
        ch.basic_publish("", q, b"m%d" % i)
    trace.call("tx_select", ch.tx_select)
    r = [ch.basic_get(q) for _ in range(3)]
    trace.log("got", [[m.delivery_tag, b] for m, _p, b in r])
    trace.call("ack 1 in tx", ch.basic_ack, 1)
    trace.call("reject 2 requeue in tx", ch.basic_reject, 2)
    trace.call("rollback", ch.tx_rollback)
    trace.call("after rollback: nothing requeued (gets)", ch.basic_get, q)
    trace.call("ack 1 again (unacked again after rollback)", ch.basic_ack, 1)
    trace.call("nack 2 requeue", ch.basic_nack, 2)
    trace.call("commit", ch.tx_commit)
    trace.call("get after commit: m1 requeued", ch.basic_get, q, auto_ack=True)
    trace.call("ack 3 then commit", ch.basic_ack, 3)
    trace.call("commit", ch.tx_commit)
    trace.call("close", ch.close)
    c2 = conn.channel()
    bodies(trace, "left in queue", c2, q)


@scenario
def scenario_tx_unknown_tag_and_publish_errors(env, trace):
    conn = env.connect()
    ch = conn.channel()
    q = env.unique("q")
    ch.queue_declare(q)
    ch.tx_select()
    ch.basic_publish("", q, b"pending")
    trace.call("ack unknown tag in tx", ch.basic_ack, 9)
    trace.call("commit", ch.tx_commit)
    trace.state("channel", ch)
    env.barrier(conn)
    c2 = conn.channel()
    trace.call("pending publish discarded", c2.queue_declare, q, passive=True)
    c3 = conn.channel()
    c3.tx_select()
    trace.call("publish to missing exchange in tx", c3.basic_publish, env.unique("missing"), "k", b"x")
    trace.call("commit", c3.tx_commit)
    trace.state("channel", c3)


@scenario
def scenario_tx_mandatory_return(env, trace):
    conn = env.connect()
    ch = conn.channel()
    returned = []
    ch.add_on_return_callback(lambda c, m, p, b: returned.append([m, b]))
    ch.tx_select()
    trace.call("mandatory unroutable in tx", ch.basic_publish, "amq.direct", env.unique("nobody"), b"r",
               mandatory=True)
    trace.call("commit", ch.tx_commit)
    env.wait_for(conn, lambda: len(returned) == 1)
    trace.log("returned", returned)


@scenario
def scenario_mode_switch_errors(env, trace):
    conn = env.connect()
    c = conn.channel()
    c.confirm_delivery()
    trace.call("tx_select on confirm channel", c.tx_select)
    trace.state("channel", c)
    c = conn.channel()
    c.tx_select()
    trace.call("confirm_delivery on tx channel", c.confirm_delivery)
    trace.state("channel", c)
    c = conn.channel()
    trace.call("tx_commit without select", c.tx_commit)
    c = conn.channel()
    trace.call("tx_rollback without select", c.tx_rollback)
    trace.state("connection", conn)


@scenario
def scenario_confirm_with_consumer_on_same_channel(env, trace):
    conn = env.connect()
    ch = conn.channel()
    q = env.unique("q")
    ch.queue_declare(q)
    got = []
    ch.basic_consume(q, lambda c, m, p, b: got.append([m.delivery_tag, b]), auto_ack=True)
    ch.confirm_delivery()
    for i in range(3):
        trace.call("publish %d" % i, ch.basic_publish, "", q, b"m%d" % i)
    env.wait_for(conn, lambda: len(got) == 3)
    trace.log("consumed", got)


@scenario
def scenario_publish_returns_none_and_body_types(env, trace):
    conn = env.connect()
    ch = conn.channel()
    q = env.unique("q")
    ch.queue_declare(q)
    ch.confirm_delivery()
    trace.call("str body", ch.basic_publish, "", q, "héllo")
    trace.call("bytes body", ch.basic_publish, "", q, b"\x00\xff")
    trace.call("properties=None", ch.basic_publish, "", q, b"np", None)
    bodies(trace, "bodies", ch, q)


def _tx_returns_and_deliveries(env, trace, targets):
    conn = env.connect()
    ch = conn.channel()
    q = env.unique("q")
    missing = env.unique("missing")
    ch.queue_declare(q)
    events = []
    ch.basic_consume(q, lambda c, m, p, b: events.append(["deliver", b]), auto_ack=True)
    ch.add_on_return_callback(lambda c, m, p, b: events.append(["return", b]))
    ch.tx_select()
    for target, body in targets:
        trace.call("publish %s (mandatory)" % body.decode(), ch.basic_publish, "", q if target == "q" else missing,
                   body, mandatory=True)
    trace.call("commit", ch.tx_commit)
    env.wait_for(conn, lambda: len(events) == len(targets))
    env.sleep(0.1, conn)
    trace.log("events, in order", events)


@scenario
def scenario_tx_commit_returns_before_deliveries(env, trace):
    _tx_returns_and_deliveries(env, trace, [("q", b"m1"), ("missing", b"m2")])


@scenario
def scenario_tx_commit_returns_before_deliveries_interleaved(env, trace):
    _tx_returns_and_deliveries(env, trace, [("q", b"a1"), ("missing", b"r1"), ("q", b"a2"), ("missing", b"r2"),
                                            ("q", b"a3"), ("missing", b"r3")])


@scenario
def scenario_tx_commit_settlement_runs_and_global_limit(env, trace):
    """A commit applies consecutive settlements of one kind as one: under a global limit whose count is
    1, acking two quorum deliveries in one run takes 2 off (to -1); ack, nack, ack are three runs."""
    for label, steps in [("ack 1, ack 2", [("ack", 1), ("ack", 2)]),
                         ("ack 1, nack 2, ack 3", [("ack", 1), ("nack", 2), ("ack", 3)]),
                         ("nack 1, reject 2 (both requeue)", [("nack", 1), ("reject", 2)])]:
        conn = env.connect()
        ch = conn.channel()
        qq = env.unique("qq")
        cq = env.unique("cq")
        ch.queue_declare(qq, durable=True, arguments={"x-queue-type": "quorum"})
        ch.queue_declare(cq)
        quorum, classic = Collector("quorum"), Collector("classic")
        ch.basic_consume(qq, quorum, consumer_tag="quorum")
        ch.basic_consume(cq, classic, consumer_tag="classic")
        ch.basic_qos(prefetch_count=1, global_qos=True)
        pub = conn.channel()
        pub.confirm_delivery()
        for i in range(3):
            pub.basic_publish("", qq, b"q%d" % i)
        wait_count(env, conn, quorum, 3)
        for i in range(5):
            pub.basic_publish("", cq, b"c%d" % i)
        wait_count(env, conn, classic, 1)
        settle(env, conn)
        ch.tx_select()
        for kind, tag in steps:
            if kind == "ack":
                ch.basic_ack(tag)
            elif kind == "nack":
                ch.basic_nack(tag, requeue=True)
            else:
                ch.basic_reject(tag, requeue=True)
        trace.call(label + ": commit", ch.tx_commit)
        wait_count(env, conn, classic, 3, timeout=0.5)
        settle(env, conn)
        trace.log(label + ": classic deliveries", [b for _m, _p, b in classic.items])
        ch.close()
        pub.queue_delete(qq)
        pub.queue_delete(cq)
        conn.close()


@scenario
def scenario_tx_commit_dead_letters_run_in_tag_order(env, trace):
    conn = env.connect()
    ch = conn.channel()
    q = env.unique("q")
    dlq = env.unique("dlq")
    ch.queue_declare(dlq)
    ch.queue_declare(q, arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq})
    ch.confirm_delivery()
    for i in range(4):
        ch.basic_publish("", q, b"m%d" % i)
    c = conn.channel()
    tags = [c.basic_get(q)[0].delivery_tag for _ in range(4)]
    c.tx_select()
    for tag in reversed(tags):
        c.basic_reject(tag, requeue=False)
    trace.call("commit of four rejects, last tag first", c.tx_commit)
    env.barrier(conn)
    bodies(trace, "dead-lettered", c, dlq)

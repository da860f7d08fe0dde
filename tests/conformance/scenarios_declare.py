"""Declaring and deleting: equivalence texts, passive 404, reserved prefix, server-named queues, the
last-declared-queue rules, exclusive and auto-delete queues, delete/purge flags, exchange types,
argument validation."""

from __future__ import annotations

import decimal

from .harness import bodies, scenario


def each_on_fresh_channel(trace, conn, cases, after=None):
    """Run each ``(label, fn(channel))`` on its own channel; log the result, the channel state and (if
    given) what ``after(channel)`` does next on that channel."""
    for label, fn in cases:
        c = conn.channel()
        trace.call(label, fn, c)
        trace.state("%s: channel" % label, c)
        if after is not None and c.is_closed:
            trace.call("%s: next call" % label, after, c)


# ------------------------------------------------------------------------------------------------
# queue equivalence


@scenario
def scenario_queue_equivalence_flags(env, trace):
    conn = env.connect()
    ch = conn.channel()
    q = env.unique("q")
    trace.call("declare", ch.queue_declare, q)
    trace.call("redeclare same", ch.queue_declare, q)
    d = env.unique("durable")
    trace.call("declare durable auto_delete", ch.queue_declare, d, durable=True, auto_delete=True)
    each_on_fresh_channel(trace, conn, [
        ("durable mismatch", lambda c: c.queue_declare(q, durable=True)),
        ("auto_delete mismatch", lambda c: c.queue_declare(q, auto_delete=True)),
        ("durable+auto_delete mismatch (durable first)", lambda c: c.queue_declare(q, durable=True, auto_delete=True)),
        ("non-durable against durable", lambda c: c.queue_declare(d, auto_delete=True)),
        ("auto_delete false against true", lambda c: c.queue_declare(d, durable=True)),
        ("exclusive against non-exclusive", lambda c: c.queue_declare(q, exclusive=True)),
        ("passive ignores flags", lambda c: c.queue_declare(q, passive=True, durable=True, exclusive=True,
                                                           auto_delete=True, arguments={"x-max-length": 1})),
    ], after=lambda c: c.queue_declare(q, passive=True))
    trace.call("sibling", ch.queue_declare, q, passive=True)


@scenario
def scenario_queue_equivalence_arguments(env, trace):
    conn = env.connect()
    ch = conn.channel()
    q = env.unique("q")
    trace.call("declare with ttl and max-length", ch.queue_declare, q,
               arguments={"x-message-ttl": 60000, "x-max-length": 10, "x-custom": "a"})
    trace.call("same args, other int width", ch.queue_declare, q,
               arguments={"x-message-ttl": 60000, "x-max-length": 10, "x-custom": "a"})
    trace.call("unlisted key differs (never compared)", ch.queue_declare, q,
               arguments={"x-message-ttl": 60000, "x-max-length": 10, "x-custom": "b", "other": 1})
    trace.call("x-queue-type classic equals absent", ch.queue_declare, q,
               arguments={"x-message-ttl": 60000, "x-max-length": 10, "x-queue-type": "classic"})
    each_on_fresh_channel(trace, conn, [
        ("arguments absent", lambda c: c.queue_declare(q)),
        ("ttl absent", lambda c: c.queue_declare(q, arguments={"x-max-length": 10})),
        ("ttl differs", lambda c: c.queue_declare(q, arguments={"x-message-ttl": 1000, "x-max-length": 10})),
        ("ttl as string", lambda c: c.queue_declare(q, arguments={"x-message-ttl": "60000", "x-max-length": 10})),
        ("ttl as bool", lambda c: c.queue_declare(q, arguments={"x-message-ttl": True, "x-max-length": 10})),
        ("extra x-expires", lambda c: c.queue_declare(q, arguments={"x-message-ttl": 60000, "x-max-length": 10,
                                                                    "x-expires": 100000})),
        ("extra x-max-priority", lambda c: c.queue_declare(q, arguments={"x-message-ttl": 60000, "x-max-length": 10,
                                                                         "x-max-priority": 5})),
        ("invalid value on existing queue", lambda c: c.queue_declare(q, arguments={"x-message-ttl": -1,
                                                                                    "x-max-length": 10})),
        ("x-queue-type quorum", lambda c: c.queue_declare(q, arguments={"x-message-ttl": 60000, "x-max-length": 10,
                                                                        "x-queue-type": "quorum"})),
        ("ttl and max-length both differ (order)", lambda c: c.queue_declare(q, arguments={"x-message-ttl": 1,
                                                                                           "x-max-length": 1})),
    ], after=lambda c: c.queue_declare(q, passive=True))


@scenario
def scenario_queue_equivalence_decimal(env, trace):
    """A decimal where the existing queue has an integer crashes the equivalence check (541)."""
    conn = env.connect()
    ch = conn.channel()
    ch2 = conn.channel()
    q = env.unique("q")
    trace.call("declare", ch.queue_declare, q, arguments={"x-message-ttl": 60000})
    trace.call("redeclare with Decimal ttl", ch.queue_declare, q,
               arguments={"x-message-ttl": decimal.Decimal("60000")})
    trace.state("channel", ch)
    trace.state("connection", conn)
    trace.call("sibling channel", ch2.queue_declare, q, passive=True)
    c = env.connect().channel()
    trace.call("queue unchanged", c.queue_declare, q, arguments={"x-message-ttl": 60000})
    trace.call("redeclare with Decimal ttl, different value", c.queue_declare, q,
               arguments={"x-message-ttl": decimal.Decimal("5")})
    c = env.connect().channel()
    q2 = env.unique("q2")
    trace.call("new queue with Decimal ttl", c.queue_declare, q2, arguments={"x-message-ttl": decimal.Decimal("5")})


@scenario
def scenario_queue_equivalence_more_arguments(env, trace):
    conn = env.connect()
    ch = conn.channel()
    q = env.unique("q")
    trace.call("declare", ch.queue_declare, q, arguments={
        "x-dead-letter-exchange": "dlx", "x-dead-letter-routing-key": "rk", "x-overflow": "reject-publish",
        "x-max-length-bytes": 1000, "x-queue-mode": "lazy", "x-single-active-consumer": True})
    base = {"x-dead-letter-exchange": "dlx", "x-dead-letter-routing-key": "rk", "x-overflow": "reject-publish",
            "x-max-length-bytes": 1000, "x-queue-mode": "lazy", "x-single-active-consumer": True}

    def with_(**kw):
        a = dict(base)
        for k, v in kw.items():
            k = k.replace("_", "-")
            if v is None:
                a.pop(k, None)
            else:
                a[k] = v
        return a

    each_on_fresh_channel(trace, conn, [
        ("dlx differs", lambda c: c.queue_declare(q, arguments=with_(x_dead_letter_exchange="other"))),
        ("dlx as bytes", lambda c: c.queue_declare(q, arguments=with_(x_dead_letter_exchange=b"dlx"))),
        ("overflow as bytes", lambda c: c.queue_declare(q, arguments=with_(x_overflow=b"reject-publish"))),
        ("max-length-bytes as long", lambda c: c.queue_declare(q, arguments=with_(x_max_length_bytes=1000))),
        ("dlrk absent", lambda c: c.queue_declare(q, arguments=with_(x_dead_letter_routing_key=None))),
        ("overflow differs", lambda c: c.queue_declare(q, arguments=with_(x_overflow="drop-head"))),
        ("max-length-bytes differs", lambda c: c.queue_declare(q, arguments=with_(x_max_length_bytes=1))),
        ("queue-mode differs", lambda c: c.queue_declare(q, arguments=with_(x_queue_mode="default"))),
        ("sac differs", lambda c: c.queue_declare(q, arguments=with_(x_single_active_consumer=False))),
        ("sac absent", lambda c: c.queue_declare(q, arguments=with_(x_single_active_consumer=None))),
        ("queue-version present", lambda c: c.queue_declare(q, arguments=with_(x_queue_version=1))),
    ], after=lambda c: c.queue_declare(q, passive=True))
    trace.call("identical", ch.queue_declare, q, arguments=base)


# ------------------------------------------------------------------------------------------------
# exchange equivalence and types


@scenario
def scenario_exchange_equivalence(env, trace):
    conn = env.connect()
    ch = conn.channel()
    x = env.unique("x")
    ae = env.unique("ae")
    trace.call("declare", ch.exchange_declare, x, "direct", arguments={"alternate-exchange": ae, "other": 1})
    trace.call("redeclare same", ch.exchange_declare, x, "direct", arguments={"alternate-exchange": ae})
    trace.call("other args ignored", ch.exchange_declare, x, "direct", arguments={"alternate-exchange": ae, "z": 2})
    each_on_fresh_channel(trace, conn, [
        ("type", lambda c: c.exchange_declare(x, "fanout", arguments={"alternate-exchange": ae})),
        ("durable", lambda c: c.exchange_declare(x, "direct", durable=True, arguments={"alternate-exchange": ae})),
        ("auto_delete", lambda c: c.exchange_declare(x, "direct", auto_delete=True,
                                                     arguments={"alternate-exchange": ae})),
        ("internal", lambda c: c.exchange_declare(x, "direct", internal=True, arguments={"alternate-exchange": ae})),
        ("type and durable (type first)", lambda c: c.exchange_declare(x, "topic", durable=True)),
        ("ae absent", lambda c: c.exchange_declare(x, "direct")),
        ("ae differs", lambda c: c.exchange_declare(x, "direct", arguments={"alternate-exchange": "amq.fanout"})),
        ("ae as bytes", lambda c: c.exchange_declare(x, "direct", arguments={"alternate-exchange": ae.encode()})),
        ("passive ignores everything", lambda c: c.exchange_declare(x, "topic", passive=True, durable=True,
                                                                    internal=True)),
        ("passive with unknown type", lambda c: c.exchange_declare(x, "no-such-type", passive=True)),
    ], after=lambda c: c.exchange_declare(x, passive=True))
    y = env.unique("y")
    ch.exchange_declare(y, "fanout")
    each_on_fresh_channel(trace, conn, [
        ("ae present against none", lambda c: c.exchange_declare(y, "fanout", arguments={"alternate-exchange": ae})),
    ])


@scenario
def scenario_exchange_unknown_type(env, trace):
    x = env.unique("x")
    for label, xtype, kw in [("unknown type", "no-such-type", {}), ("case-sensitive Direct", "Direct", {}),
                             ("empty type", "", {}), ("unknown type on default exchange", "bogus-type", {"name": ""}),
                             ("x-consistent-hash (plugin not enabled)", "x-consistent-hash", {})]:
        conn = env.connect()
        ch = conn.channel()
        ch2 = conn.channel()
        name = kw.get("name", x)
        trace.call(label, ch.exchange_declare, name, xtype)
        trace.state("%s: channel" % label, ch)
        trace.state("%s: connection" % label, conn)
        trace.call("%s: sibling channel" % label, ch2.exchange_declare, "amq.direct", passive=True)
        trace.call("%s: conn.channel()" % label, conn.channel)
    conn = env.connect()
    ch = conn.channel()
    ch.exchange_declare(x, "fanout")
    trace.call("unknown type on existing exchange", ch.exchange_declare, x, "no-such-type")
    trace.state("connection", conn)
    ch = env.connect().channel()
    trace.call("existing exchange still there", ch.exchange_declare, x, passive=True)
    trace.call("non-str exchange name", ch.exchange_declare, 5)


@scenario
def scenario_exchange_alternate_exchange_type(env, trace):
    conn = env.connect()
    x = env.unique("x")
    each_on_fresh_channel(trace, conn, [
        ("AE int", lambda c: c.exchange_declare(x, "direct", arguments={"alternate-exchange": 1})),
        ("AE bool", lambda c: c.exchange_declare(x, "direct", arguments={"alternate-exchange": True})),
        ("AE bytes", lambda c: c.exchange_declare(x, "direct", arguments={"alternate-exchange": b"amq.fanout"})),
        ("exchange exists after AE bytes?", lambda c: c.exchange_declare(x, passive=True)),
    ])


@scenario
def scenario_exchange_declare_all_types(env, trace):
    conn = env.connect()
    ch = conn.channel()
    for t in ("direct", "fanout", "topic", "headers"):
        x = env.unique(t)
        trace.call("declare %s" % t, ch.exchange_declare, x, t, durable=False, auto_delete=False)
        trace.call("passive %s" % t, ch.exchange_declare, x, passive=True)
        trace.call("delete %s" % t, ch.exchange_delete, x)
        trace.call("delete %s again" % t, ch.exchange_delete, x, if_unused=True)


# ------------------------------------------------------------------------------------------------
# passive / reserved names / server-named


@scenario
def scenario_passive_declare_missing(env, trace):
    conn = env.connect()
    each_on_fresh_channel(trace, conn, [
        ("passive queue", lambda c: c.queue_declare(env.unique("missing"), passive=True)),
        ("passive exchange", lambda c: c.exchange_declare(env.unique("missing"), passive=True)),
        ("passive queue ''", lambda c: c.queue_declare("", passive=True)),
        ("passive queue '' after declaring one", lambda c: (c.queue_declare(env.unique("q")),
                                                           c.queue_declare("", passive=True))),
    ], after=lambda c: c.queue_declare(env.unique("q")))


@scenario
def scenario_reserved_amq_prefix(env, trace):
    conn = env.connect()
    ch = conn.channel()
    gen = ch.queue_declare("", exclusive=True).method.queue
    trace.log("server-named", gen)
    each_on_fresh_channel(trace, conn, [
        ("declare amq.q", lambda c: c.queue_declare("amq.q")),
        ("declare amq.q passive", lambda c: c.queue_declare("amq.q", passive=True)),
        ("redeclare server-named by name", lambda c: c.queue_declare(gen, exclusive=True)),
        ("passive server-named", lambda c: c.queue_declare(gen, passive=True)),
        ("declare amq.", lambda c: c.queue_declare("amq.")),
        ("declare 'amq' (no dot)", lambda c: (c.queue_declare("amq", auto_delete=True, exclusive=True))),
        ("declare AMQ.q (upper)", lambda c: c.queue_declare("AMQ.conf.q", exclusive=True)),
        ("bind server-named", lambda c: c.queue_bind(gen, "amq.fanout")),
        ("purge server-named", lambda c: c.queue_purge(gen)),
        ("get server-named", lambda c: c.basic_get(gen)),
        ("delete amq.nope queue", lambda c: c.queue_delete("amq.nope")),
        ("purge amq.nope", lambda c: c.queue_purge("amq.nope")),
    ])
    trace.call("unbind server-named", ch.queue_unbind, gen, "amq.fanout")
    trace.call("delete server-named", ch.queue_delete, gen)


@scenario
def scenario_server_named_queue(env, trace):
    conn = env.connect()
    ch = conn.channel()
    r1 = trace.call("declare ''", ch.queue_declare, "", exclusive=True)
    r2 = trace.call("declare '' again", ch.queue_declare, "", exclusive=True)
    n1, n2 = r1.method.queue, r2.method.queue
    trace.log("distinct", n1 != n2)
    trace.log("length", len(n1))
    trace.log("alphabet ok", all(c.isalnum() or c in "-_" for c in n1[len("amq.gen-"):]))
    ch.confirm_delivery()
    ch.basic_publish("", n1, b"to first")
    trace.call("passive first", ch.queue_declare, n1, passive=True)
    trace.call("get first", ch.basic_get, n1, auto_ack=True)
    r3 = trace.call("declare '' non-exclusive auto_delete", ch.queue_declare, "", auto_delete=True)
    trace.call("delete third", ch.queue_delete, r3.method.queue)


@scenario
def scenario_last_declared_queue(env, trace):
    conn = env.connect()
    ch0 = conn.channel()
    each_on_fresh_channel(trace, conn, [
        ("bind '' with no declared queue", lambda c: c.queue_bind("", "amq.direct", routing_key="k")),
        ("purge ''", lambda c: c.queue_purge("")),
        ("delete ''", lambda c: c.queue_delete("")),
        ("get ''", lambda c: c.basic_get("")),
        ("consume ''", lambda c: c.basic_consume("", lambda *a: None)),
        ("unbind ''", lambda c: c.queue_unbind("", "amq.direct", routing_key="k")),
    ])
    ch = conn.channel()
    q1, q2 = env.unique("q1"), env.unique("q2")
    ch.queue_declare(q1)
    ch.queue_declare(q2)
    trace.call("passive q1 (becomes last)", ch.queue_declare, q1, passive=True)
    trace.call("bind '' with key ''", ch.queue_bind, "", "amq.direct", routing_key="")
    trace.call("bind '' with key 'k'", ch.queue_bind, "", "amq.direct", routing_key="k")
    ch.confirm_delivery()
    ch.basic_publish("amq.direct", q1, b"by-queue-name-key")
    ch.basic_publish("amq.direct", "k", b"by-k")
    ch.basic_publish("amq.direct", "", b"by-empty-key")
    trace.call("get ''", ch.basic_get, "", auto_ack=True)
    trace.call("purge ''", ch.queue_purge, "")
    trace.call("other channel: its own last queue", ch0.queue_declare, q2)
    ch0.basic_publish("", q2, b"q2-msg")
    trace.call("other channel get ''", ch0.basic_get, "", auto_ack=True)
    trace.call("unbind '' key ''", ch.queue_unbind, "", "amq.direct", routing_key="")
    trace.call("unbind '' key k", ch.queue_unbind, "", "amq.direct", routing_key="k")
    trace.call("consume ''", ch.basic_consume, "", lambda *a: None, consumer_tag="t1")
    trace.call("q1 consumers", ch0.queue_declare, q1, passive=True)
    trace.call("cancel", ch.basic_cancel, "t1")
    trace.call("delete ''", ch.queue_delete, "")
    trace.call("q1 gone?", ch.queue_declare, q1, passive=True)
    ch3 = conn.channel()
    trace.call("new channel declares q2, deletes it", ch3.queue_declare, q2)
    ch3.queue_delete(q2)
    trace.call("get '' on deleted last queue", ch3.basic_get, "")


@scenario
def scenario_server_named_then_empty_name(env, trace):
    conn = env.connect()
    ch = conn.channel()
    r = trace.call("declare ''", ch.queue_declare, "", exclusive=True)
    trace.call("bind '' to amq.fanout", ch.queue_bind, "", "amq.fanout")
    ch.confirm_delivery()
    ch.basic_publish("amq.fanout", "", b"via-fanout")
    ch.basic_publish("", r.method.queue, b"direct")
    trace.call("get ''", ch.basic_get, "", auto_ack=True)
    trace.call("get '' again", ch.basic_get, "", auto_ack=True)
    trace.call("unbind", ch.queue_unbind, "", "amq.fanout")
    trace.call("delete ''", ch.queue_delete, "")


# ------------------------------------------------------------------------------------------------
# exclusive / auto-delete


@scenario
def scenario_exclusive_queue_other_connection(env, trace):
    owner = env.connect()
    och = owner.channel()
    q = env.unique("q")
    trace.call("declare exclusive", och.queue_declare, q, exclusive=True)
    other = env.connect()
    x = env.unique("x")
    other.channel().exchange_declare(x, "fanout")
    och.queue_bind(q, x, routing_key="pre")
    each_on_fresh_channel(trace, other, [
        ("declare", lambda c: c.queue_declare(q)),
        ("declare exclusive", lambda c: c.queue_declare(q, exclusive=True)),
        ("passive", lambda c: c.queue_declare(q, passive=True)),
        ("bind", lambda c: c.queue_bind(q, x, routing_key="k")),
        ("unbind existing binding", lambda c: c.queue_unbind(q, x, routing_key="pre")),
        ("unbind missing binding", lambda c: c.queue_unbind(q, x, routing_key="never")),
        ("consume", lambda c: c.basic_consume(q, lambda *a: None)),
        ("get", lambda c: c.basic_get(q)),
        ("purge", lambda c: c.queue_purge(q)),
        ("delete", lambda c: c.queue_delete(q)),
    ])
    pc = other.channel()
    pc.confirm_delivery()
    trace.call("publish from other connection", pc.basic_publish, "", q, b"allowed", mandatory=True)
    trace.call("publish via exchange", pc.basic_publish, x, "", b"via-x", mandatory=True)
    och2 = owner.channel()
    trace.call("owner other channel: redeclare exclusive", och2.queue_declare, q, exclusive=True)
    bodies(trace, "owner gets", och2, q)


@scenario
def scenario_exclusive_queue_owner_rules(env, trace):
    owner = env.connect()
    ch = owner.channel()
    q, plain = env.unique("q"), env.unique("plain")
    ch.queue_declare(q, exclusive=True)
    ch.queue_declare(plain)
    each_on_fresh_channel(trace, owner, [
        ("owner redeclare non-exclusive", lambda c: c.queue_declare(q)),
        ("owner redeclare exclusive durable (ignored?)", lambda c: c.queue_declare(q, exclusive=True, durable=True)),
        ("redeclare plain queue exclusive", lambda c: c.queue_declare(plain, exclusive=True)),
    ])
    ch.basic_publish("", q, b"m")
    trace.call("close declaring channel", ch.close)
    ch2 = owner.channel()
    trace.call("queue survives channel close", ch2.queue_declare, q, passive=True)
    trace.call("owner close connection", owner.close)
    other = env.connect().channel()
    env.barrier()
    trace.call("gone after owner connection closed", other.queue_declare, q, passive=True)


@scenario
def scenario_exclusive_durable_declare(env, trace):
    conn = env.connect()
    ch = conn.channel()
    q = env.unique("q")
    trace.call("declare exclusive durable", ch.queue_declare, q, exclusive=True, durable=True)
    each_on_fresh_channel(trace, conn, [
        ("redeclare exclusive non-durable", lambda c: c.queue_declare(q, exclusive=True)),
        ("redeclare exclusive durable", lambda c: c.queue_declare(q, exclusive=True, durable=True)),
    ])


@scenario
def scenario_auto_delete_queue(env, trace):
    conn = env.connect()
    ch = conn.channel()
    q = env.unique("q")
    trace.call("declare auto_delete", ch.queue_declare, q, auto_delete=True)
    ch.basic_publish("", q, b"m1")
    trace.call("basic_get does not count", ch.basic_get, q, auto_ack=True)
    trace.call("still there", ch.queue_declare, q, passive=True)
    ch.basic_consume(q, lambda *a: None, consumer_tag="c1")
    ch.basic_consume(q, lambda *a: None, consumer_tag="c2")
    trace.call("two consumers", ch.queue_declare, q, passive=True)
    trace.call("cancel one", ch.basic_cancel, "c1")
    trace.call("still there", ch.queue_declare, q, passive=True)
    trace.call("cancel last", ch.basic_cancel, "c2")
    env.barrier()
    trace.call("gone", ch.queue_declare, q, passive=True)
    ch = conn.channel()
    trace.call("redeclare", ch.queue_declare, q, auto_delete=True)
    c2 = conn.channel()
    c2.basic_consume(q, lambda *a: None, consumer_tag="c3")
    trace.call("close consumer channel", c2.close)
    env.barrier()
    trace.call("gone after channel close", ch.queue_declare, q, passive=True)
    ch = conn.channel()
    ch.queue_declare(q, auto_delete=True)
    other = env.connect()
    other.channel().basic_consume(q, lambda *a: None)
    trace.call("close consumer connection", other.close)
    env.barrier()
    trace.call("gone after connection close", ch.queue_declare, q, passive=True)


# ------------------------------------------------------------------------------------------------
# delete / purge


@scenario
def scenario_queue_delete_flags(env, trace):
    conn = env.connect()
    ch = conn.channel()
    q = env.unique("q")
    ch.queue_declare(q)
    ch.confirm_delivery()
    for i in range(3):
        ch.basic_publish("", q, b"m%d" % i)
    each_on_fresh_channel(trace, conn, [
        ("if_empty with 3 ready", lambda c: c.queue_delete(q, if_empty=True)),
    ])
    cons = conn.channel()
    cons.basic_qos(prefetch_count=1)
    cons.basic_consume(q, lambda *a: None, consumer_tag="busy")
    trace.call("count: 1 delivered, 2 ready, 1 consumer", cons.queue_declare, q, passive=True)
    each_on_fresh_channel(trace, conn, [
        ("if_unused with consumer", lambda c: c.queue_delete(q, if_unused=True)),
        ("both flags, both violated", lambda c: c.queue_delete(q, if_unused=True, if_empty=True)),
    ])
    trace.call("cancel", cons.basic_cancel, "busy")
    trace.call("close consumer channel", cons.close)
    trace.call("count", ch.queue_declare, q, passive=True)
    trace.call("if_unused without consumers but not empty", conn.channel().queue_delete, q, if_unused=True)
    ch.queue_declare(q)
    for i in range(3):
        ch.basic_publish("", q, b"m%d" % i)
    g = conn.channel()
    trace.call("get without ack (unacked does not count for if_empty?)", g.basic_get, q)
    trace.call("get without ack", g.basic_get, q)
    trace.call("get without ack", g.basic_get, q)
    trace.call("if_empty with only unacked", ch.queue_delete, q, if_empty=True)
    trace.call("gone", conn.channel().queue_declare, q, passive=True)
    trace.call("ack after queue deleted", g.basic_ack, 1)
    trace.call("ack multiple after queue deleted", g.basic_ack, 3, multiple=True)
    trace.call("channel still fine", g.queue_declare, env.unique("probe"), auto_delete=True)
    trace.call("delete missing", ch.queue_delete, env.unique("never"))
    q2 = env.unique("q2")
    ch.queue_declare(q2)
    ch.basic_publish("", q2, b"x")
    ch.basic_publish("", q2, b"y")
    trace.call("delete returns ready count", ch.queue_delete, q2)


@scenario
def scenario_queue_purge(env, trace):
    conn = env.connect()
    ch = conn.channel()
    q = env.unique("q")
    ch.queue_declare(q)
    trace.call("purge empty", ch.queue_purge, q)
    ch.confirm_delivery()
    for i in range(4):
        ch.basic_publish("", q, b"m%d" % i)
    g = conn.channel()
    trace.call("get 1 unacked", g.basic_get, q)
    trace.call("purge", ch.queue_purge, q)
    trace.call("count after purge", ch.queue_declare, q, passive=True)
    trace.call("requeue unacked", g.basic_nack, 1)
    env.barrier()
    trace.call("count after requeue", g.queue_declare, q, passive=True)
    trace.call("get requeued", ch.basic_get, q, auto_ack=True)
    each_on_fresh_channel(trace, conn, [
        ("purge missing", lambda c: c.queue_purge(env.unique("missing"))),
    ])


# ------------------------------------------------------------------------------------------------
# argument validation (docs/semantics.md §6.2)


@scenario
def scenario_queue_argument_validation(env, trace):
    conn = env.connect()
    q = env.unique("q")
    cases = [
        ("x-expires 0", {"x-expires": 0}),
        ("x-expires -1", {"x-expires": -1}),
        ("x-expires too large", {"x-expires": 315360000001}),
        ("x-expires str", {"x-expires": "1000"}),
        ("x-message-ttl -1", {"x-message-ttl": -1}),
        ("x-message-ttl too large", {"x-message-ttl": 315360000001}),
        ("x-message-ttl str", {"x-message-ttl": "abc"}),
        ("x-message-ttl bool", {"x-message-ttl": True}),
        ("x-message-ttl decimal", {"x-message-ttl": decimal.Decimal("1.5")}),
        ("x-message-ttl None", {"x-message-ttl": None}),
        ("x-max-length -1", {"x-max-length": -1}),
        ("x-max-length str", {"x-max-length": "10"}),
        ("x-max-length-bytes -5", {"x-max-length-bytes": -5}),
        ("x-max-priority -1", {"x-max-priority": -1}),
        ("x-max-priority 256", {"x-max-priority": 256}),
        ("x-max-priority bytes", {"x-max-priority": b"5"}),
        ("x-overflow bogus", {"x-overflow": "bogus"}),
        ("x-overflow int", {"x-overflow": 1}),
        ("x-queue-mode bogus", {"x-queue-mode": "bogus"}),
        ("x-queue-version 3", {"x-queue-version": 3}),
        ("x-single-active-consumer str", {"x-single-active-consumer": "true"}),
        ("x-single-active-consumer int", {"x-single-active-consumer": 1}),
        ("x-dead-letter-exchange int", {"x-dead-letter-exchange": 5}),
        ("x-dead-letter-routing-key without dlx", {"x-dead-letter-routing-key": "rk"}),
        ("x-dead-letter-routing-key int", {"x-dead-letter-exchange": "d", "x-dead-letter-routing-key": 5}),
        ("x-queue-type bogus", {"x-queue-type": "bogus"}),
        ("x-queue-type int", {"x-queue-type": 1}),
        ("x-delivery-limit on classic", {"x-delivery-limit": 5}),
        ("x-max-age on classic", {"x-max-age": "1D"}),
        ("x-dead-letter-strategy on classic", {"x-dead-letter-strategy": "at-least-once"}),
        ("first invalid wins: ttl and max-length", {"x-max-length": -1, "x-message-ttl": -1}),
        ("first invalid wins: queue-type and expires", {"x-expires": 0, "x-queue-type": "bogus"}),
        ("dlx type before other args", {"x-max-length": -1, "x-dead-letter-exchange": 1}),
    ]
    for label, args in cases:
        c = conn.channel()
        trace.call(label, c.queue_declare, q, arguments=args)
        trace.state(label + ": channel", c)
    ok = [
        ("x-max-length 0", {"x-max-length": 0}),
        ("x-max-priority 0", {"x-max-priority": 0}),
        ("x-max-priority 255", {"x-max-priority": 255}),
        ("x-message-ttl 0", {"x-message-ttl": 0}),
        ("x-expires max", {"x-expires": 315360000000}),
        ("x-queue-mode lazy", {"x-queue-mode": "lazy"}),
        ("x-queue-version 2", {"x-queue-version": 2}),
        ("x-single-active-consumer false", {"x-single-active-consumer": False}),
        ("x-dead-letter-exchange ''", {"x-dead-letter-exchange": ""}),
        ("unknown x-whatever", {"x-whatever": [1, 2]}),
        ("big int ttl (long)", {"x-message-ttl": 2 ** 33}),
    ]
    ch = conn.channel()
    for label, args in ok:
        trace.call(label, ch.queue_declare, q, arguments=args)
        trace.call(label + ": delete", ch.queue_delete, q)


@scenario
def scenario_queue_names(env, trace):
    conn = env.connect()
    ch = conn.channel()
    weird = env.unique("sp ace/üñí*#.")
    trace.call("declare unicode/space name", ch.queue_declare, weird)
    ch.basic_publish("", weird, b"x")
    trace.call("get", ch.basic_get, weird, auto_ack=True)
    trace.call("delete", ch.queue_delete, weird)
    each_on_fresh_channel(trace, conn, [
        ("256-byte name", lambda c: c.queue_declare("q" * 256)),
        ("255-byte name passive", lambda c: c.queue_declare("q" * 255, passive=True)),
        ("non-str name", lambda c: c.queue_declare(b"bytes-name")),
    ])
    c = conn.channel()
    trace.call("too long routing key in publish", c.basic_publish, "", "k" * 256, b"x")
    trace.call("channel usable after client-side refusal", c.queue_declare, env.unique("after"), auto_delete=True)
    c2 = conn.channel()
    trace.call("too long name in declare", c2.queue_declare, "q" * 256)
    trace.call("channel usable after refused declare", c2.queue_declare, env.unique("after2"), auto_delete=True)


@scenario
def scenario_reply_text_truncated(env, trace):
    """Reply texts are short strings: RabbitMQ cuts them to 252 bytes and appends '...'."""
    owner = env.connect()
    other = env.connect()
    for label, name in [("ascii", "x" * 60), ("utf-8", "ü" * 40), ("short", "s")]:
        q = env.unique(name)
        owner.channel().queue_declare(q, exclusive=True)
        c = other.channel()
        trace.call("405 for %s name" % label, c.queue_declare, q)
    c = other.channel()
    trace.call("404 with a 255-byte queue name", c.queue_declare, env.unique("n" * 200), passive=True)


@scenario
def scenario_quorum_dead_letter_strategy_argument(env, trace):
    conn = env.connect()
    qq = {"x-queue-type": "quorum"}
    names = iter(env.unique("qq%d" % i) for i in range(8))
    each_on_fresh_channel(trace, conn, [
        ("unknown strategy", lambda c: c.queue_declare(next(names), durable=True,
                                                       arguments=dict(qq, **{"x-dead-letter-strategy": "sometimes"}))),
        ("strategy as bytes", lambda c: c.queue_declare(next(names), durable=True,
                                                        arguments=dict(qq, **{"x-dead-letter-strategy": b"at-most-once"}))),
        ("strategy as int", lambda c: c.queue_declare(next(names), durable=True,
                                                      arguments=dict(qq, **{"x-dead-letter-strategy": 1}))),
        ("at-least-once", lambda c: c.queue_declare(next(names), durable=True,
                                                    arguments=dict(qq, **{"x-dead-letter-strategy": "at-least-once"}))),
        ("at-most-once", lambda c: c.queue_declare(next(names), durable=True,
                                                   arguments=dict(qq, **{"x-dead-letter-strategy": "at-most-once"}))),
        ("on a classic queue", lambda c: c.queue_declare(next(names),
                                                         arguments={"x-dead-letter-strategy": "at-most-once"})),
    ])


@scenario
def scenario_channel_numbers(env, trace):
    conn = env.connect()
    for number in (2048, 65535):
        ch = conn.channel(channel_number=number)
        trace.state("channel %d" % number, ch)
        trace.call("use it", ch.exchange_declare, "amq.direct", passive=True)
    trace.state("channel 7", conn.channel(channel_number=7))
    trace.call("open channel 7 again", conn.channel, channel_number=7)
    trace.state("connection", conn)


@scenario
def scenario_stream_declare_refusals(env, trace):
    """What RabbitMQ refuses before it creates a stream (minimq then refuses streams as such)."""
    conn = env.connect()
    stream = {"x-queue-type": "stream"}
    each_on_fresh_channel(trace, conn, [
        ("non-durable", lambda c: c.queue_declare(env.unique("s1"), arguments=stream)),
        ("auto-delete", lambda c: c.queue_declare(env.unique("s2"), durable=True, auto_delete=True,
                                                  arguments=stream)),
        ("exclusive", lambda c: c.queue_declare(env.unique("s3"), durable=True, exclusive=True, arguments=stream)),
    ])


@scenario
def scenario_stream_offset_on_other_queue_types(env, trace):
    conn = env.connect()
    classic, quorum = env.unique("classic"), env.unique("quorum")
    setup = conn.channel()
    setup.queue_declare(classic)
    setup.queue_declare(quorum, durable=True, arguments={"x-queue-type": "quorum"})
    each_on_fresh_channel(trace, conn, [
        ("x-stream-offset on classic", lambda c: c.basic_consume(classic, lambda *a: None,
                                                                 arguments={"x-stream-offset": "first"})),
        ("x-stream-offset on quorum", lambda c: c.basic_consume(quorum, lambda *a: None,
                                                                arguments={"x-stream-offset": "first"})),
        ("x-cancel-on-ha-failover on quorum", lambda c: c.basic_consume(
            quorum, lambda *a: None, arguments={"x-cancel-on-ha-failover": True})),
        ("x-cancel-on-ha-failover on classic", lambda c: c.basic_consume(
            classic, lambda *a: None, arguments={"x-cancel-on-ha-failover": True})),
    ])


@scenario
def scenario_queue_locator_arguments(env, trace):
    conn = env.connect()
    names = iter(env.unique("q%d" % i) for i in range(10))
    qq = {"x-queue-type": "quorum"}
    each_on_fresh_channel(trace, conn, [
        ("classic, valid master locator", lambda c: c.queue_declare(
            next(names), arguments={"x-queue-master-locator": "client-local"})),
        ("quorum, leader locator balanced", lambda c: c.queue_declare(
            next(names), durable=True, arguments=dict(qq, **{"x-queue-leader-locator": "balanced"}))),
        ("quorum, leader locator min-masters", lambda c: c.queue_declare(
            next(names), durable=True, arguments=dict(qq, **{"x-queue-leader-locator": "min-masters"}))),
        ("quorum, leader locator as int", lambda c: c.queue_declare(
            next(names), durable=True, arguments=dict(qq, **{"x-queue-leader-locator": 1}))),
    ])
    trace.call("classic, unknown master locator", conn.channel().queue_declare, next(names),
               arguments={"x-queue-master-locator": "bogus"})
    trace.state("connection", conn)


@scenario
def scenario_quorum_redeclare_compares_its_own_arguments(env, trace):
    conn = env.connect()
    q = env.unique("qq")
    qq = {"x-queue-type": "quorum"}
    conn.channel().queue_declare(q, durable=True, arguments=qq)
    each_on_fresh_channel(trace, conn, [
        ("add x-queue-master-locator (not a quorum argument)", lambda c: c.queue_declare(
            q, durable=True, arguments=dict(qq, **{"x-queue-master-locator": "client-local"}))),
        ("add x-quorum-initial-group-size", lambda c: c.queue_declare(
            q, durable=True, arguments=dict(qq, **{"x-quorum-initial-group-size": 3}))),
        ("add x-max-in-memory-length", lambda c: c.queue_declare(
            q, durable=True, arguments=dict(qq, **{"x-max-in-memory-length": 3}))),
        ("add x-queue-leader-locator", lambda c: c.queue_declare(
            q, durable=True, arguments=dict(qq, **{"x-queue-leader-locator": "balanced"}))),
        ("add ttl and max-length (order)", lambda c: c.queue_declare(
            q, durable=True, arguments=dict(qq, **{"x-message-ttl": 5, "x-max-length": 5}))),
    ])


@scenario
def scenario_server_named_quorum_refused_first(env, trace):
    """'' with a quorum or stream type is refused before any property or argument check."""
    conn = env.connect()
    cases = [
        ("quorum, non-durable", {}, {"x-queue-type": "quorum"}),
        ("quorum, exclusive auto-delete", dict(exclusive=True, auto_delete=True), {"x-queue-type": "quorum"}),
        ("quorum, invalid x-expires", dict(durable=True), {"x-queue-type": "quorum", "x-expires": -1}),
        ("quorum, x-dead-letter-exchange not a string", {}, {"x-queue-type": "quorum", "x-dead-letter-exchange": 5}),
        ("quorum, x-max-priority 300", dict(durable=True), {"x-queue-type": "quorum", "x-max-priority": 300}),
        ("quorum as bytes", dict(durable=True), {"x-queue-type": b"quorum"}),
        ("stream", dict(durable=True), {"x-queue-type": "stream"}),
    ]
    for label, flags, args in cases:
        ch = conn.channel()
        trace.call(label, ch.queue_declare, "", arguments=args, **flags)
        trace.state(label + ": channel", ch)
    trace.state("connection", conn)


@scenario
def scenario_server_named_unknown_queue_type_crashes(env, trace):
    """RabbitMQ looks the type up to decide whether '' may be server-named and crashes on an unknown one."""
    for qtype in ["bogus", 5]:
        conn = env.connect()
        ch = conn.channel()
        trace.call("x-queue-type %r" % (qtype,), ch.queue_declare, "", arguments={"x-queue-type": qtype})
        trace.state("connection", conn)


@scenario
def scenario_quorum_classic_only_argument_refused_before_value_check(env, trace):
    conn = env.connect()
    q = env.unique("qq")
    for arg, value in [("x-max-priority", 300), ("x-max-priority", -1), ("x-max-priority", "high"),
                       ("x-queue-mode", "bad"), ("x-queue-version", 7)]:
        ch = conn.channel()
        trace.call("%s %r" % (arg, value), ch.queue_declare, q, durable=True,
                   arguments={"x-queue-type": "quorum", arg: value})
    trace.call("not created", conn.channel().queue_declare, q, passive=True)


@scenario
def scenario_quorum_only_arguments_validated(env, trace):
    conn = env.connect()
    q = env.unique("qq")
    cases = [
        ("x-max-in-memory-length -1", {"x-max-in-memory-length": -1}),
        ("x-max-in-memory-length 'a'", {"x-max-in-memory-length": "a"}),
        ("x-max-in-memory-bytes -1", {"x-max-in-memory-bytes": -1}),
        ("x-quorum-initial-group-size 0", {"x-quorum-initial-group-size": 0}),
        ("x-quorum-initial-group-size -1", {"x-quorum-initial-group-size": -1}),
        ("x-quorum-initial-group-size 'a'", {"x-quorum-initial-group-size": "a"}),
        ("x-max-in-memory-length -1, x-max-length -1", {"x-max-in-memory-length": -1, "x-max-length": -1}),
        ("x-max-in-memory-length -1, x-overflow bad", {"x-max-in-memory-length": -1, "x-overflow": "bad"}),
        ("x-quorum-initial-group-size 0, x-single-active-consumer 5",
         {"x-quorum-initial-group-size": 0, "x-single-active-consumer": 5}),
        ("x-quorum-initial-group-size 0, x-queue-leader-locator bad",
         {"x-quorum-initial-group-size": 0, "x-queue-leader-locator": "bad"}),
        ("x-quorum-initial-group-size 0, x-max-priority 1", {"x-quorum-initial-group-size": 0, "x-max-priority": 1}),
    ]
    for label, args in cases:
        ch = conn.channel()
        trace.call(label, ch.queue_declare, q, durable=True, arguments={"x-queue-type": "quorum", **args})
    trace.call("not created", conn.channel().queue_declare, q, passive=True)

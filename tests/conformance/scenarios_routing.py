"""Routing: direct, fanout, topic (docs/semantics.md §5.2 table), headers, CC/BCC, exchange-to-exchange,
alternate, internal, auto-delete, default and amq.* exchanges."""

from __future__ import annotations

import datetime
import decimal

from .harness import bodies, get_all, scenario

# ------------------------------------------------------------------------------------------------
# matrix helper


def route_matrix(env, trace, xtype, bindings, publishes, label="routed", exchange=None):
    """Declare an exchange of ``xtype`` and one queue per binding; publish every message (confirmed)
    and log, per binding, which messages arrived (by body).

    ``bindings``: list of (name, routing_key, arguments); ``publishes``: list of (body, routing_key,
    headers-or-None)."""
    conn = env.connect()
    ch = conn.channel()
    x = exchange or env.unique("x")
    if exchange is None:
        trace.call("exchange_declare", ch.exchange_declare, x, xtype)
    queues = []
    for name, key, args in bindings:
        q = env.unique("q.%s" % name)
        ch.queue_declare(q)
        r = trace.call("bind %s" % name, ch.queue_bind, q, x, routing_key=key, arguments=args)
        queues.append((name, q, r is not None))
    ch.confirm_delivery()
    for body, key, headers in publishes:
        props = env.pika.BasicProperties(headers=headers) if headers is not None else None
        ch.basic_publish(x, key, body, props)
    result = {}
    for name, q, _ok in queues:
        got = []
        while True:
            m, _p, b = ch.basic_get(q, auto_ack=True)
            if m is None:
                break
            got.append(b.decode())
        result[name] = got
    trace.log(label, result)
    return conn, ch, x


# ------------------------------------------------------------------------------------------------
# direct / fanout


@scenario
def scenario_direct_exact_match(env, trace):
    keys = ["k", "K", "", "a.b", "*", "#", "k "]
    route_matrix(env, trace, "direct",
                 [("k", "k", None), ("K", "K", None), ("empty", "", None), ("dotted", "a.b", None),
                  ("star", "*", None), ("hash", "#", None)],
                 [("m:%s" % k, k, None) for k in keys] + [("none", "x", None)])


@scenario
def scenario_direct_several_queues_same_key(env, trace):
    conn, ch, x = route_matrix(env, trace, "direct",
                               [("a", "rk", None), ("b", "rk", None), ("c", "other", None)],
                               [("1", "rk", None), ("2", "other", None), ("3", "nothing", None)])
    q = env.unique("q.a")
    # bind the same queue twice with two keys; a message matching both still gives one copy
    trace.call("bind second key", ch.queue_bind, q, x, routing_key="rk2")
    ch.basic_publish(x, "rk", b"4")
    ch.basic_publish(x, "rk2", b"5")
    bodies(trace, "queue a after second bind", ch, q)


@scenario
def scenario_fanout_ignores_keys(env, trace):
    route_matrix(env, trace, "fanout",
                 [("a", "", None), ("b", "some.key", None), ("c", "#", None)],
                 [("1", "", None), ("2", "x", None), ("3", "some.key", None)])


@scenario
def scenario_fanout_one_copy_per_queue(env, trace):
    conn = env.connect()
    ch = conn.channel()
    x = env.unique("x")
    q = env.unique("q")
    ch.exchange_declare(x, "fanout")
    ch.queue_declare(q)
    trace.call("bind k1", ch.queue_bind, q, x, routing_key="k1")
    trace.call("bind k2", ch.queue_bind, q, x, routing_key="k2")
    ch.confirm_delivery()
    trace.call("publish", ch.basic_publish, x, "any", b"one")
    trace.call("count", ch.queue_declare, q, passive=True)
    trace.call("unbind k1", ch.queue_unbind, q, x, routing_key="k1")
    ch.basic_publish(x, "any", b"two")
    trace.call("unbind k2", ch.queue_unbind, q, x, routing_key="k2")
    ch.basic_publish(x, "any", b"three")
    bodies(trace, "bodies", ch, q)


# ------------------------------------------------------------------------------------------------
# topic (docs/semantics.md §5.2)

TOPIC_KEYS = ["", ".", "..", "a", "a.", ".a", ".a.", "a.b", "a..b", "a...b", "b.a", "x.y.a", "a.x.b",
              "a.b.c", "a#", "a*", "#a", "#", "*"]


def _topic(env, trace, patterns):
    route_matrix(env, trace, "topic", [("p%d[%s]" % (i, p), p, None) for i, p in enumerate(patterns)],
                 [(k if k else "<empty>", k, None) for k in TOPIC_KEYS])


@scenario
def scenario_topic_hash_patterns(env, trace):
    _topic(env, trace, ["#", "#.#", "#.#.#", "a.#", "#.a", "#."])


@scenario
def scenario_topic_star_patterns(env, trace):
    _topic(env, trace, ["*", "*.*", "*.#", "#.*", "#.*.#", "a.*.b", "*.#.*"])


@scenario
def scenario_topic_empty_words_and_literals(env, trace):
    _topic(env, trace, ["", ".", "..", "a", "a.", "a..b", "a.b", "a#", "a*", "#a"])


@scenario
def scenario_topic_one_copy_and_unbind(env, trace):
    conn = env.connect()
    ch = conn.channel()
    x = env.unique("x")
    q = env.unique("q")
    ch.exchange_declare(x, "topic")
    ch.queue_declare(q)
    for p in ["a.*", "*.b", "#", "a.b"]:
        trace.call("bind %s" % p, ch.queue_bind, q, x, routing_key=p)
    ch.confirm_delivery()
    ch.basic_publish(x, "a.b", b"1")
    trace.call("count after one publish", ch.queue_declare, q, passive=True)
    trace.call("unbind #", ch.queue_unbind, q, x, routing_key="#")
    trace.call("unbind missing pattern", ch.queue_unbind, q, x, routing_key="no.such")
    ch.basic_publish(x, "c.d", b"2")
    ch.basic_publish(x, "a.c", b"3")
    trace.call("unbind a.* , *.b, a.b", lambda: [ch.queue_unbind(q, x, routing_key=p) for p in ["a.*", "*.b", "a.b"]])
    ch.basic_publish(x, "a.b", b"4")
    bodies(trace, "bodies", ch, q)


@scenario
def scenario_topic_long_keys(env, trace):
    deep = ".".join(["w"] * 30)
    route_matrix(env, trace, "topic",
                 [("deep-exact", deep, None), ("deep-hash", "w.#.w", None), ("stars", ".".join(["*"] * 30), None),
                  ("hash-star-hash", "#.w.#", None)],
                 [("deep", deep, None), ("short", "w.w", None), ("one", "w", None), ("mixed", "w.x.w", None)])


# ------------------------------------------------------------------------------------------------
# headers


@scenario
def scenario_headers_all_any(env, trace):
    route_matrix(env, trace, "headers",
                 [("all", "", {"x-match": "all", "a": "1", "b": "2"}),
                  ("default-all", "", {"a": "1", "b": "2"}),
                  ("any", "", {"x-match": "any", "a": "1", "b": "2"}),
                  ("all-empty", "", {"x-match": "all"}),
                  ("no-args", "", None),
                  ("any-empty", "", {"x-match": "any"}),
                  ("keyed", "ignored.key", {"a": "1"})],
                 [("ab", "", {"a": "1", "b": "2"}),
                  ("a", "", {"a": "1"}),
                  ("b", "", {"b": "2"}),
                  ("a-wrong", "", {"a": "2", "b": "2"}),
                  ("extra", "", {"a": "1", "b": "2", "c": "3"}),
                  ("empty", "", {}),
                  ("none", "", None)])


@scenario
def scenario_headers_with_x(env, trace):
    route_matrix(env, trace, "headers",
                 [("all", "", {"x-match": "all", "x-k": "v", "a": "1"}),
                  ("all-with-x", "", {"x-match": "all-with-x", "x-k": "v", "a": "1"}),
                  ("any", "", {"x-match": "any", "x-k": "v"}),
                  ("any-with-x", "", {"x-match": "any-with-x", "x-k": "v"}),
                  ("all-only-x", "", {"x-match": "all", "x-k": "v"}),
                  ("plain-on-x-header", "", {"x-match": "all", "k": "v"})],
                 [("a", "", {"a": "1"}),
                  ("a+xk", "", {"a": "1", "x-k": "v"}),
                  ("xk", "", {"x-k": "v"}),
                  ("xk-wrong", "", {"x-k": "w", "a": "1"}),
                  ("nothing", "", {"z": "z"})])


@scenario
def scenario_headers_value_types(env, trace):
    dt = datetime.datetime(2020, 1, 2, 3, 4, 5)
    epoch = 1577934245
    route_matrix(env, trace, "headers",
                 [("str", "", {"k": "v"}),
                  ("int1", "", {"k": 1}),
                  ("bool", "", {"k": True}),
                  ("big", "", {"k": 2 ** 40}),
                  ("decimal", "", {"k": decimal.Decimal("1.5")}),
                  ("void", "", {"k": None}),
                  ("table", "", {"k": {"a": 1, "b": "x"}}),
                  ("list", "", {"k": [1, "x"]}),
                  ("datetime", "", {"k": dt})],
                 [("str", "", {"k": "v"}),
                  ("bytes", "", {"k": b"v"}),
                  ("int1", "", {"k": 1}),
                  ("true", "", {"k": True}),
                  ("str1", "", {"k": "1"}),
                  ("big", "", {"k": 2 ** 40}),
                  ("decimal", "", {"k": decimal.Decimal("1.50")}),
                  ("void", "", {"k": None}),
                  ("table", "", {"k": {"a": 1, "b": "x"}}),
                  ("table-reordered", "", {"k": {"b": "x", "a": 1}}),
                  ("list", "", {"k": [1, "x"]}),
                  ("list-reordered", "", {"k": ["x", 1]}),
                  ("datetime", "", {"k": dt}),
                  ("epoch-int", "", {"k": epoch}),
                  ("absent", "", {"other": 1})])


@scenario
def scenario_headers_bytes_binding_value(env, trace):
    route_matrix(env, trace, "headers",
                 [("bytes", "", {"k": b"v"}), ("int-long", "", {"k": 5}), ("false", "", {"k": False})],
                 [("str", "", {"k": "v"}), ("bytes", "", {"k": b"v"}), ("int5", "", {"k": 5}),
                  ("long5", "", {"k": 5}), ("false", "", {"k": False}), ("zero", "", {"k": 0})])


@scenario
def scenario_headers_invalid_x_match(env, trace):
    conn = env.connect()
    x = env.unique("x")
    q = env.unique("q")
    ch = conn.channel()
    ch.exchange_declare(x, "headers")
    ch.queue_declare(q)
    for label, args in [("ALL", {"x-match": "ALL"}), ("bogus", {"x-match": "bogus"}), ("int", {"x-match": 1}),
                        ("bytes", {"x-match": b"all"}), ("empty", {"x-match": ""})]:
        c = conn.channel()
        trace.call("bind x-match %s" % label, c.queue_bind, q, x, arguments=args)
        trace.state("channel after %s" % label, c)
        trace.call("then declare on same channel", c.queue_declare, q, passive=True)
    trace.call("sibling channel still works", ch.queue_declare, q, passive=True)
    trace.call("valid any-with-x binding", ch.queue_bind, q, x, arguments={"x-match": "any-with-x"})


@scenario
def scenario_headers_binding_identity(env, trace):
    conn = env.connect()
    ch = conn.channel()
    x = env.unique("x")
    q = env.unique("q")
    ch.exchange_declare(x, "headers")
    ch.queue_declare(q)
    trace.call("bind a=1", ch.queue_bind, q, x, arguments={"a": 1})
    trace.call("bind b=2 same key", ch.queue_bind, q, x, arguments={"b": 2})
    ch.confirm_delivery()
    ch.basic_publish(x, "", b"both", env.pika.BasicProperties(headers={"a": 1, "b": 2}))
    trace.call("unbind with other args (no-op)", ch.queue_unbind, q, x, arguments={"a": 2})
    trace.call("unbind a=1", ch.queue_unbind, q, x, arguments={"a": 1})
    ch.basic_publish(x, "", b"a-only", env.pika.BasicProperties(headers={"a": 1}))
    ch.basic_publish(x, "", b"b-only", env.pika.BasicProperties(headers={"b": 2}))
    bodies(trace, "bodies", ch, q)


# ------------------------------------------------------------------------------------------------
# CC / BCC (docs/semantics.md §5.4)


@scenario
def scenario_cc_bcc_direct(env, trace):
    conn = env.connect()
    ch = conn.channel()
    x = env.unique("x")
    ch.exchange_declare(x, "direct")
    qs = {}
    for k in ["main", "cc1", "cc2", "bcc1"]:
        qs[k] = env.unique("q." + k)
        ch.queue_declare(qs[k])
        ch.queue_bind(qs[k], x, routing_key=k)
    ch.confirm_delivery()
    P = env.pika.BasicProperties
    ch.basic_publish(x, "main", b"cc", P(headers={"CC": ["cc1", "cc2"], "app": "v"}))
    ch.basic_publish(x, "main", b"bcc-only", P(headers={"BCC": ["bcc1"]}))
    ch.basic_publish(x, "main", b"both", P(headers={"CC": ["cc1"], "BCC": ["bcc1", "main"], "z": 1}))
    ch.basic_publish(x, "nowhere", b"cc-route-only", P(headers={"CC": ["cc2", 5, b"cc1"]}))
    ch.basic_publish(x, "main", b"lower-cc", P(headers={"cc": ["cc1"]}))
    for k, q in qs.items():
        get_all(trace, "get %s" % k, ch, q)


@scenario
def scenario_cc_topic_and_default_exchange(env, trace):
    conn = env.connect()
    ch = conn.channel()
    x = env.unique("x")
    ch.exchange_declare(x, "topic")
    qa = env.unique("qa")
    qb = env.unique("qb")
    ch.queue_declare(qa)
    ch.queue_declare(qb)
    ch.queue_bind(qa, x, routing_key="a.*")
    ch.queue_bind(qb, x, routing_key="b.#")
    ch.confirm_delivery()
    P = env.pika.BasicProperties
    ch.basic_publish(x, "a.1", b"topic", P(headers={"CC": ["b.x.y", "a.2"]}))
    ch.basic_publish("", qa, b"default", P(headers={"BCC": [qb]}))
    trace.call("mandatory routed only by CC", ch.basic_publish, x, "zzz", b"cc-saves", P(headers={"CC": ["a.q"]}),
               mandatory=True)
    for q, name in ((qa, "qa"), (qb, "qb")):
        get_all(trace, "get %s" % name, ch, q)


# ------------------------------------------------------------------------------------------------
# exchange-to-exchange


@scenario
def scenario_e2e_chain_and_delivered_exchange(env, trace):
    conn = env.connect()
    ch = conn.channel()
    x1, x2, x3 = env.unique("x1"), env.unique("x2"), env.unique("x3")
    ch.exchange_declare(x1, "topic")
    ch.exchange_declare(x2, "direct")
    ch.exchange_declare(x3, "fanout")
    q2, q3 = env.unique("q2"), env.unique("q3")
    ch.queue_declare(q2)
    ch.queue_declare(q3)
    trace.call("x1 -> x2 on a.#", ch.exchange_bind, x2, x1, routing_key="a.#")
    trace.call("x2 -> x3 on a.b", ch.exchange_bind, x3, x2, routing_key="a.b")
    ch.queue_bind(q2, x2, routing_key="a.c")
    ch.queue_bind(q3, x3)
    ch.confirm_delivery()
    ch.basic_publish(x1, "a.b", b"ab")
    ch.basic_publish(x1, "a.c", b"ac")
    ch.basic_publish(x1, "b.b", b"bb")
    ch.basic_publish(x2, "a.b", b"direct-x2")
    for q, name in ((q2, "q2"), (q3, "q3")):
        get_all(trace, "get %s" % name, ch, q)
    trace.call("exchange_unbind x2 <- x1", ch.exchange_unbind, x2, x1, routing_key="a.#")
    trace.call("unbind again (no-op)", ch.exchange_unbind, x2, x1, routing_key="a.#")
    ch.basic_publish(x1, "a.b", b"after-unbind")
    trace.call("q3 count", ch.queue_declare, q3, passive=True)


@scenario
def scenario_e2e_cycle_one_copy(env, trace):
    conn = env.connect()
    ch = conn.channel()
    a, b, c = env.unique("a"), env.unique("b"), env.unique("c")
    for x in (a, b, c):
        ch.exchange_declare(x, "fanout")
    trace.call("a->b", ch.exchange_bind, b, a)
    trace.call("b->a", ch.exchange_bind, a, b)
    trace.call("b->c", ch.exchange_bind, c, b)
    trace.call("a->c", ch.exchange_bind, c, a)
    trace.call("c->c self", ch.exchange_bind, c, c)
    qa, qc = env.unique("qa"), env.unique("qc")
    ch.queue_declare(qa)
    ch.queue_declare(qc)
    ch.queue_bind(qa, a)
    ch.queue_bind(qa, b)
    ch.queue_bind(qc, c)
    ch.queue_bind(qc, a, routing_key="direct-too")
    ch.confirm_delivery()
    trace.call("publish to a", ch.basic_publish, a, "k", b"from-a", mandatory=True)
    trace.call("publish to b", ch.basic_publish, b, "k", b"from-b", mandatory=True)
    trace.call("publish to c", ch.basic_publish, c, "k", b"from-c", mandatory=True)
    for q, name in ((qa, "qa"), (qc, "qc")):
        get_all(trace, "get %s" % name, ch, q)


@scenario
def scenario_e2e_errors(env, trace):
    conn = env.connect()
    ch = conn.channel()
    x = env.unique("x")
    ch.exchange_declare(x, "direct")
    missing, missing2 = env.unique("missing"), env.unique("missing2")
    cases = [
        ("missing source", lambda c: c.exchange_bind(x, missing)),
        ("missing destination", lambda c: c.exchange_bind(missing, x)),
        ("both missing", lambda c: c.exchange_bind(missing, missing2)),
        ("default as destination", lambda c: c.exchange_bind("", x)),
        ("default as source", lambda c: c.exchange_bind(x, "")),
        ("unbind missing source", lambda c: c.exchange_unbind(x, missing)),
        ("unbind default", lambda c: c.exchange_unbind(x, "")),
        ("unbind nonexistent binding", lambda c: c.exchange_unbind("amq.direct", x, routing_key="nope")),
    ]
    for label, fn in cases:
        c = conn.channel()
        trace.call(label, fn, c)
        trace.state("%s: channel" % label, c)
        trace.call("%s: next call" % label, c.exchange_declare, x, passive=True)
    trace.call("sibling channel", ch.exchange_declare, x, passive=True)


@scenario
def scenario_e2e_binding_identity(env, trace):
    conn = env.connect()
    ch = conn.channel()
    src, dst = env.unique("src"), env.unique("dst")
    ch.exchange_declare(src, "direct")
    ch.exchange_declare(dst, "fanout")
    q = env.unique("q")
    ch.queue_declare(q)
    ch.queue_bind(q, dst)
    trace.call("bind k", ch.exchange_bind, dst, src, routing_key="k")
    trace.call("bind k again", ch.exchange_bind, dst, src, routing_key="k")
    trace.call("bind k with args", ch.exchange_bind, dst, src, routing_key="k", arguments={"a": 1})
    ch.confirm_delivery()
    ch.basic_publish(src, "k", b"1")
    trace.call("unbind k no args", ch.exchange_unbind, dst, src, routing_key="k")
    ch.basic_publish(src, "k", b"2")
    trace.call("unbind k wrong args", ch.exchange_unbind, dst, src, routing_key="k", arguments={"a": 2})
    ch.basic_publish(src, "k", b"3")
    trace.call("unbind k args", ch.exchange_unbind, dst, src, routing_key="k", arguments={"a": 1})
    ch.basic_publish(src, "k", b"4")
    bodies(trace, "bodies", ch, q)


# ------------------------------------------------------------------------------------------------
# alternate exchange


@scenario
def scenario_alternate_exchange(env, trace):
    conn = env.connect()
    ch = conn.channel()
    main, ae, ae2 = env.unique("main"), env.unique("ae"), env.unique("ae2")
    trace.call("declare ae2", ch.exchange_declare, ae2, "fanout")
    trace.call("declare ae -> ae2", ch.exchange_declare, ae, "direct", arguments={"alternate-exchange": ae2})
    trace.call("declare main -> ae", ch.exchange_declare, main, "direct", arguments={"alternate-exchange": ae})
    qm, qa, qa2 = env.unique("qm"), env.unique("qa"), env.unique("qa2")
    for q in (qm, qa, qa2):
        ch.queue_declare(q)
    ch.queue_bind(qm, main, routing_key="m")
    ch.queue_bind(qa, ae, routing_key="a")
    ch.queue_bind(qa2, ae2)
    ch.confirm_delivery()
    trace.call("routed by main", ch.basic_publish, main, "m", b"m", mandatory=True)
    trace.call("routed by ae", ch.basic_publish, main, "a", b"a", mandatory=True)
    trace.call("routed by ae2", ch.basic_publish, main, "zzz", b"z", mandatory=True)
    for q, name in ((qm, "qm"), (qa, "qa"), (qa2, "qa2")):
        get_all(trace, "get %s" % name, ch, q)


@scenario
def scenario_alternate_exchange_missing_and_cycle(env, trace):
    conn = env.connect()
    ch = conn.channel()
    x, missing = env.unique("x"), env.unique("missing")
    a, b = env.unique("a"), env.unique("b")
    trace.call("declare with missing AE", ch.exchange_declare, x, "direct", arguments={"alternate-exchange": missing})
    trace.call("declare a -> b", ch.exchange_declare, a, "direct", arguments={"alternate-exchange": b})
    trace.call("declare b -> a", ch.exchange_declare, b, "direct", arguments={"alternate-exchange": a})
    ch.confirm_delivery()
    trace.call("publish via missing AE", ch.basic_publish, x, "k", b"1", mandatory=True)
    trace.call("publish into AE cycle", ch.basic_publish, a, "k", b"2", mandatory=True)
    q = env.unique("q")
    ch.queue_declare(q)
    ch.queue_bind(q, b, routing_key="k")
    trace.call("publish into AE cycle, b routes", ch.basic_publish, a, "k", b"3", mandatory=True)
    trace.call("AE declared later", ch.exchange_declare, missing, "fanout")
    ch.queue_bind(q, missing)
    trace.call("publish via now-existing AE", ch.basic_publish, x, "k", b"4", mandatory=True)
    bodies(trace, "bodies", ch, q)


@scenario
def scenario_alternate_exchange_via_e2e_and_internal(env, trace):
    conn = env.connect()
    ch = conn.channel()
    top, mid, ae = env.unique("top"), env.unique("mid"), env.unique("ae")
    trace.call("declare internal ae", ch.exchange_declare, ae, "fanout", internal=True)
    trace.call("declare mid with ae", ch.exchange_declare, mid, "direct", arguments={"alternate-exchange": ae})
    trace.call("declare top", ch.exchange_declare, top, "fanout")
    ch.exchange_bind(mid, top)
    q = env.unique("q")
    ch.queue_declare(q)
    ch.queue_bind(q, ae)
    ch.confirm_delivery()
    trace.call("publish top (mid has no binding -> its AE)", ch.basic_publish, top, "x", b"via-mid-ae", mandatory=True)
    trace.call("get", ch.basic_get, q, auto_ack=True)


# ------------------------------------------------------------------------------------------------
# internal / auto-delete / default / amq.*


@scenario
def scenario_internal_exchange(env, trace):
    conn = env.connect()
    ch = conn.channel()
    front, internal = env.unique("front"), env.unique("internal")
    trace.call("declare internal", ch.exchange_declare, internal, "fanout", internal=True)
    ch.exchange_declare(front, "fanout")
    ch.exchange_bind(internal, front)
    q = env.unique("q")
    ch.queue_declare(q)
    ch.queue_bind(q, internal)
    ch.confirm_delivery()
    trace.call("publish via front", ch.basic_publish, front, "", b"ok")
    trace.call("get", ch.basic_get, q, auto_ack=True)
    c2 = conn.channel()
    trace.call("direct publish to internal (no confirm)", c2.basic_publish, internal, "", b"refused")
    trace.state("channel right after publish", c2)
    trace.call("next sync call", c2.queue_declare, q, passive=True)
    trace.state("channel after", c2)
    trace.call("call after close", c2.queue_declare, q, passive=True)
    c3 = conn.channel()
    c3.confirm_delivery()
    trace.call("direct publish to internal (confirm)", c3.basic_publish, internal, "", b"refused")
    trace.state("confirm channel after", c3)
    trace.call("sibling still works; count", ch.queue_declare, q, passive=True)


@scenario
def scenario_auto_delete_exchange(env, trace):
    conn = env.connect()
    ch = conn.channel()
    x = env.unique("x")
    q1, q2 = env.unique("q1"), env.unique("q2")
    ch.queue_declare(q1)
    ch.queue_declare(q2)
    trace.call("declare auto-delete", ch.exchange_declare, x, "direct", auto_delete=True)
    trace.call("never bound: still there", ch.exchange_declare, x, passive=True)
    ch.queue_bind(q1, x, routing_key="a")
    ch.queue_bind(q2, x, routing_key="b")
    trace.call("unbind one of two", ch.queue_unbind, q1, x, routing_key="a")
    trace.call("still there", ch.exchange_declare, x, passive=True)
    trace.call("delete last bound queue", ch.queue_delete, q2)
    trace.call("passive after last binding gone", ch.exchange_declare, x, passive=True)
    ch2 = conn.channel()
    trace.call("redeclare", ch2.exchange_declare, x, "direct", auto_delete=True)
    ch2.queue_bind(q1, x, routing_key="a")
    trace.call("unbind last", ch2.queue_unbind, q1, x, routing_key="a")
    trace.call("passive after unbind", ch2.exchange_declare, x, passive=True)


@scenario
def scenario_auto_delete_exchange_e2e(env, trace):
    conn = env.connect()
    ch = conn.channel()
    src, dst = env.unique("src"), env.unique("dst")
    ch.exchange_declare(src, "fanout", auto_delete=True)
    ch.exchange_declare(dst, "fanout", auto_delete=True)
    trace.call("bind dst <- src", ch.exchange_bind, dst, src)
    trace.call("delete dst", ch.exchange_delete, dst)
    trace.call("src gone?", ch.exchange_declare, src, passive=True)
    ch2 = conn.channel()
    ch2.exchange_declare(src, "fanout", auto_delete=True)
    ch2.exchange_declare(dst, "fanout")
    ch2.exchange_bind(dst, src)
    trace.call("unbind dst <- src", ch2.exchange_unbind, dst, src)
    trace.call("src after unbind", ch2.exchange_declare, src, passive=True)


@scenario
def scenario_default_exchange_refusals(env, trace):
    conn = env.connect()
    ch = conn.channel()
    q = env.unique("q")
    ch.queue_declare(q)
    x = env.unique("x")
    ch.exchange_declare(x)
    cases = [
        ("declare ''", lambda c: c.exchange_declare("")),
        ("passive declare ''", lambda c: c.exchange_declare("", passive=True)),
        ("declare '' fanout", lambda c: c.exchange_declare("", "fanout")),
        ("delete ''", lambda c: c.exchange_delete("")),
        ("queue_bind ''", lambda c: c.queue_bind(q, "", routing_key="k")),
        ("queue_unbind ''", lambda c: c.queue_unbind(q, "", routing_key=q)),
        ("exchange_bind dest ''", lambda c: c.exchange_bind("", x)),
        ("exchange_bind source ''", lambda c: c.exchange_bind(x, "")),
    ]
    for label, fn in cases:
        c = conn.channel()
        trace.call(label, fn, c)
        trace.state(label + ": channel", c)
    trace.call("sibling", ch.queue_declare, q, passive=True)


@scenario
def scenario_default_exchange_routing(env, trace):
    conn = env.connect()
    ch = conn.channel()
    q = env.unique("Queue")
    ch.queue_declare(q)
    ch.confirm_delivery()
    trace.call("exact name", ch.basic_publish, "", q, b"1", mandatory=True)
    trace.call("wrong case", ch.basic_publish, "", q.lower(), b"2", mandatory=True)
    trace.call("missing queue, not mandatory", ch.basic_publish, "", env.unique("nope"), b"3")
    trace.call("empty key", ch.basic_publish, "", "", b"4", mandatory=True)
    bodies(trace, "bodies", ch, q)


@scenario
def scenario_amq_exchanges(env, trace):
    conn = env.connect()
    ch = conn.channel()
    for name, xtype in [("amq.direct", "direct"), ("amq.fanout", "fanout"), ("amq.topic", "topic"),
                        ("amq.headers", "headers"), ("amq.match", "headers"), ("amq.rabbitmq.trace", "topic")]:
        trace.call("passive %s" % name, ch.exchange_declare, name, passive=True)
    trace.call("redeclare amq.direct durable", ch.exchange_declare, "amq.direct", "direct", durable=True)
    trace.call("redeclare amq.rabbitmq.trace", ch.exchange_declare, "amq.rabbitmq.trace", "topic", durable=True,
               internal=True)
    cases = [
        ("redeclare amq.direct non-durable", lambda c: c.exchange_declare("amq.direct", "direct")),
        ("redeclare amq.fanout as direct", lambda c: c.exchange_declare("amq.fanout", "direct", durable=True)),
        ("redeclare amq.topic auto_delete", lambda c: c.exchange_declare("amq.topic", "topic", durable=True,
                                                                         auto_delete=True)),
        ("delete amq.direct", lambda c: c.exchange_delete("amq.direct")),
        ("delete missing amq.nope", lambda c: c.exchange_delete("amq.nope")),
        ("declare amq.nope", lambda c: c.exchange_declare("amq.nope", "direct")),
        ("passive amq.nope", lambda c: c.exchange_declare("amq.nope", passive=True)),
        ("declare AMQ.upper (ordinary)", lambda c: (c.exchange_declare("AMQ.conf.amq_exchanges", "direct"),
                                                    c.exchange_delete("AMQ.conf.amq_exchanges"))),
        ("publish to amq.rabbitmq.trace", lambda c: (c.confirm_delivery(), c.basic_publish("amq.rabbitmq.trace", "k", b"x"))),
    ]
    for label, fn in cases:
        c = conn.channel()
        trace.call(label, fn, c)
        trace.state(label + ": channel", c)


@scenario
def scenario_amq_exchanges_route(env, trace):
    conn = env.connect()
    ch = conn.channel()
    q = env.unique("q")
    ch.queue_declare(q)
    ch.queue_bind(q, "amq.direct", routing_key=q)
    ch.queue_bind(q, "amq.fanout")
    ch.queue_bind(q, "amq.topic", routing_key=q + ".#")
    ch.queue_bind(q, "amq.headers", arguments={"conf-scenario": q})
    ch.queue_bind(q, "amq.match", arguments={"x-match": "any", "conf-match": q})
    ch.confirm_delivery()
    P = env.pika.BasicProperties
    ch.basic_publish("amq.direct", q, b"direct")
    ch.basic_publish("amq.fanout", "", b"fanout")
    ch.basic_publish("amq.topic", q + ".a.b", b"topic")
    ch.basic_publish("amq.headers", "", b"headers", P(headers={"conf-scenario": q}))
    ch.basic_publish("amq.match", "", b"match", P(headers={"conf-match": q}))
    bodies(trace, "bodies", ch, q)
    for x, key, args in [("amq.direct", q, None), ("amq.fanout", "", None), ("amq.topic", q + ".#", None),
                         ("amq.headers", "", {"conf-scenario": q}),
                         ("amq.match", "", {"x-match": "any", "conf-match": q})]:
        trace.call("unbind %s" % x, ch.queue_unbind, q, x, routing_key=key, arguments=args)


@scenario
def scenario_queue_bind_errors_and_defaults(env, trace):
    conn = env.connect()
    ch = conn.channel()
    x, q = env.unique("x"), env.unique("q")
    ch.exchange_declare(x, "direct")
    ch.queue_declare(q)
    trace.call("bind with routing_key None (= queue name)", ch.queue_bind, q, x)
    ch.confirm_delivery()
    ch.basic_publish(x, q, b"by-queue-name")
    ch.basic_publish(x, "", b"by-empty-key")
    bodies(trace, "bodies", ch, q)
    mq, mx = env.unique("missing-q"), env.unique("missing-x")
    cases = [
        ("missing exchange", lambda c: c.queue_bind(q, mx, routing_key="k")),
        ("missing queue", lambda c: c.queue_bind(mq, x, routing_key="k")),
        ("both missing", lambda c: c.queue_bind(mq, mx, routing_key="k")),
        ("unbind missing queue", lambda c: c.queue_unbind(mq, x, routing_key="k")),
        ("unbind missing exchange", lambda c: c.queue_unbind(q, mx, routing_key="k")),
        ("unbind missing binding", lambda c: c.queue_unbind(q, x, routing_key="never-bound")),
        ("bind non-str queue", lambda c: c.queue_bind(None, x, routing_key="k")),
    ]
    for label, fn in cases:
        c = conn.channel()
        trace.call(label, fn, c)
        trace.state(label + ": channel", c)


@scenario
def scenario_exchange_delete(env, trace):
    conn = env.connect()
    ch = conn.channel()
    src, dst = env.unique("src"), env.unique("dst")
    q = env.unique("q")
    ch.exchange_declare(src, "fanout")
    ch.exchange_declare(dst, "fanout")
    ch.queue_declare(q)
    ch.exchange_bind(dst, src)
    c = conn.channel()
    trace.call("if_unused on source of e2e binding", c.exchange_delete, src, if_unused=True)
    trace.state("channel", c)
    trace.call("if_unused on exchange that is only destination", ch.exchange_delete, dst, if_unused=True)
    trace.call("dst gone", conn.channel().exchange_declare, dst, passive=True)
    ch.queue_bind(q, src)
    c = conn.channel()
    trace.call("if_unused with queue binding", c.exchange_delete, src, if_unused=True)
    trace.call("delete src", ch.exchange_delete, src)
    trace.call("queue untouched", ch.queue_declare, q, passive=True)
    trace.call("delete missing exchange", ch.exchange_delete, env.unique("never"))
    trace.call("redeclare src; binding gone?", ch.exchange_declare, src, "fanout")
    ch.confirm_delivery()
    trace.call("publish mandatory after re-creation", ch.basic_publish, src, "", b"x", mandatory=True)


@scenario
def scenario_default_exchange_as_alternate(env, trace):
    conn = env.connect()
    ch = conn.channel()
    q, x = env.unique("q"), env.unique("x")
    ch.queue_declare(q)
    trace.call("declare with alternate-exchange ''", ch.exchange_declare, x, "direct",
               arguments={"alternate-exchange": ""})
    ch.confirm_delivery()
    trace.call("mandatory publish keyed by the queue's name", ch.basic_publish, x, q, b"m", mandatory=True)
    trace.call("queue", ch.queue_declare, q, passive=True)

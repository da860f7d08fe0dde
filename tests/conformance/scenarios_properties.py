"""Message properties: the 14 basic properties, header value types, bodies, user_id, expiration and
delivery_mode validation (docs/semantics.md §9)."""

from __future__ import annotations

import datetime
import decimal

from .harness import Collector, scenario, wait_count


def roundtrip(env, trace, label, props, body=b"body", via_consumer=False):
    """Publish with ``props`` (confirmed) and log what ``basic_get`` (or a consumer) returns."""
    conn = env.connect()
    ch = conn.channel()
    q = env.unique("q")
    ch.queue_declare(q)
    ch.confirm_delivery()
    trace.call(label + ": publish", ch.basic_publish, "", q, body, props)
    trace.call(label + ": get", ch.basic_get, q, auto_ack=True)
    if via_consumer:
        ch.basic_publish("", q, body, props)
        col = Collector()
        tag = ch.basic_consume(q, col, auto_ack=True)
        wait_count(env, conn, col, 1)
        col.log(trace, label + ": consumed")
        ch.basic_cancel(tag)
    return conn, ch, q


@scenario
def scenario_all_properties_roundtrip(env, trace):
    P = env.pika.BasicProperties
    props = P(content_type="application/json", content_encoding="gzip", headers={"a": "b"}, delivery_mode=2,
              priority=7, correlation_id="corr", reply_to="reply.queue", expiration="60000", message_id="mid",
              timestamp=1700000000, type="kind", user_id="guest", app_id="app", cluster_id="cluster")
    roundtrip(env, trace, "all 14", props, via_consumer=True)


@scenario
def scenario_no_properties(env, trace):
    conn, ch, q = roundtrip(env, trace, "no properties", None, via_consumer=True)
    trace.call("empty BasicProperties", ch.basic_publish, "", q, b"x", env.pika.BasicProperties())
    trace.call("get", ch.basic_get, q, auto_ack=True)
    trace.call("delivery_mode 1 only", ch.basic_publish, "", q, b"y", env.pika.BasicProperties(delivery_mode=1))
    trace.call("get", ch.basic_get, q, auto_ack=True)


@scenario
def scenario_header_value_types(env, trace):
    P = env.pika.BasicProperties
    headers = {
        "str": "text", "unicode": "ünï", "empty-str": "", "bytes": b"\x00\x01bin", "empty-bytes": b"",
        "int": 42, "negative": -7, "zero": 0, "int32-max": 2 ** 31 - 1, "int32-min": -2 ** 31,
        "big": 2 ** 40, "big-negative": -2 ** 40, "int64-max": 2 ** 63 - 1,
        "true": True, "false": False,
        "decimal": decimal.Decimal("3.140"), "decimal-neg": decimal.Decimal("-0.5"), "decimal-int": decimal.Decimal("7"),
        "datetime": datetime.datetime(2021, 6, 7, 8, 9, 10),
        "datetime-micro": datetime.datetime(2021, 6, 7, 8, 9, 10, 123456),
        "nested": {"z": 1, "a": {"deep": [1, "two", None]}},
        "list": [1, "x", b"y", True, None, {"k": "v"}, [2]], "empty-list": [], "empty-table": {},
        "none": None,
    }
    roundtrip(env, trace, "header types", P(headers=headers))


@scenario
def scenario_header_key_order(env, trace):
    P = env.pika.BasicProperties
    headers = {"zeta": 1, "alpha": 2, "Mid": 3, "x-foo": 4, "CC-not": 5}
    roundtrip(env, trace, "unsorted keys", P(headers=headers), via_consumer=True)


@scenario
def scenario_header_float_refused(env, trace):
    conn = env.connect()
    ch = conn.channel()
    q = env.unique("q")
    ch.queue_declare(q)
    P = env.pika.BasicProperties
    trace.call("float header", ch.basic_publish, "", q, b"x", P(headers={"f": 1.5}))
    trace.state("channel", ch)
    trace.call("nested float", ch.basic_publish, "", q, b"x", P(headers={"t": {"f": 2.5}}))
    trace.call("channel usable", ch.queue_declare, q, passive=True)
    trace.call("get: nothing was sent", ch.basic_get, q)


@scenario
def scenario_bodies(env, trace):
    conn = env.connect()
    ch = conn.channel()
    q = env.unique("q")
    ch.queue_declare(q)
    ch.confirm_delivery()
    big = bytes(range(256)) * 600  # 153600 bytes: several frames
    for label, body in [("empty", b""), ("one byte", b"\x00"), ("utf8 str", "€uro"), ("big", big)]:
        trace.call("publish " + label, ch.basic_publish, "", q, body)
    for label in ["empty", "one byte", "utf8 str"]:
        trace.call("get " + label, ch.basic_get, q, auto_ack=True)
    m, p, b = ch.basic_get(q, auto_ack=True)
    trace.log("big body intact", [len(b), b == big])
    col = Collector()
    ch.basic_publish("", q, b"")
    ch.basic_consume(q, col, auto_ack=True)
    wait_count(env, conn, col, 1)
    col.log(trace, "empty body via consumer")


@scenario
def scenario_user_id(env, trace):
    conn = env.connect()
    q = env.unique("q")
    conn.channel().queue_declare(q)
    P = env.pika.BasicProperties
    ch = conn.channel()
    ch.confirm_delivery()
    trace.call("user_id guest", ch.basic_publish, "", q, b"ok", P(user_id="guest"))
    trace.call("get", ch.basic_get, q, auto_ack=True)
    for label, uid in [("other user", "admin"), ("case differs", "Guest"), ("empty user_id", "")]:
        c = conn.channel()
        trace.call(label + ": publish (async)", c.basic_publish, "", q, b"bad", P(user_id=uid))
        trace.call(label + ": next sync call", c.queue_declare, q, passive=True)
    trace.call("nothing was routed", ch.queue_declare, q, passive=True)


@scenario
def scenario_invalid_expiration(env, trace):
    conn = env.connect()
    q = env.unique("q")
    ok = conn.channel()
    ok.queue_declare(q)
    P = env.pika.BasicProperties
    for value in ["", "abc", "1.5", "10ms", "-1", " 5", "5 ", "315360000001", "99999999999999999999", "0x10",
                  "1e3", "+60000", "0060000"]:
        c = conn.channel()
        c.confirm_delivery()
        trace.call("expiration %r" % value, c.basic_publish, "", q, b"x", P(expiration=value))
        trace.state("channel after %r" % value, c)
    trace.call("count", ok.queue_declare, q, passive=True)
    for _ in range(3):
        trace.call("get", ok.basic_get, q, auto_ack=True)


@scenario
def scenario_invalid_expiration_async(env, trace):
    conn = env.connect()
    q = env.unique("q")
    c = conn.channel()
    c.queue_declare(q)
    trace.call("publish bad expiration without confirms", c.basic_publish, "", q, b"x",
               env.pika.BasicProperties(expiration="soon"))
    trace.state("right after", c)
    trace.call("next sync call", c.queue_declare, q, passive=True)
    trace.state("after", c)


@scenario
def scenario_delivery_mode_values(env, trace):
    conn = env.connect()
    q = env.unique("q")
    ok = conn.channel()
    ok.queue_declare(q)
    P = env.pika.BasicProperties
    for dm in [0, 1, 2, 3, 255]:
        c = conn.channel()
        c.confirm_delivery()
        trace.call("delivery_mode %d" % dm, c.basic_publish, "", q, b"dm%d" % dm, P(delivery_mode=dm))
    for _ in range(4):
        trace.call("get", ok.basic_get, q, auto_ack=True)


@scenario
def scenario_priority_property_values(env, trace):
    conn = env.connect()
    ch = conn.channel()
    q = env.unique("q")
    ch.queue_declare(q)
    ch.confirm_delivery()
    P = env.pika.BasicProperties
    for pr in [0, 9, 10, 255]:
        trace.call("priority %d" % pr, ch.basic_publish, "", q, b"p%d" % pr, P(priority=pr))
    for _ in range(5):
        trace.call("get (plain queue: FIFO)", ch.basic_get, q, auto_ack=True)


@scenario
def scenario_cc_header_not_array(env, trace):
    conn = env.connect()
    q = env.unique("q")
    ok = conn.channel()
    ok.queue_declare(q)
    P = env.pika.BasicProperties
    for label, headers in [("CC string", {"CC": q}), ("BCC int", {"BCC": 5}), ("CC table", {"CC": {"a": q}}),
                           ("CC bytes", {"CC": q.encode()}), ("CC empty list", {"CC": []})]:
        c = conn.channel()
        c.confirm_delivery()
        trace.call(label, c.basic_publish, "", q, label.encode(), P(headers=headers))
        trace.state(label + ": channel", c)
    for _ in range(3):
        trace.call("get", ok.basic_get, q, auto_ack=True)


@scenario
def scenario_negative_long_after_reencode(env, trace):
    """Headers the server re-encodes (here: BCC removal) bring negative 64-bit ints back as type 'l'."""
    conn = env.connect()
    ch = conn.channel()
    q, q2 = env.unique("q"), env.unique("q2")
    ch.queue_declare(q)
    ch.queue_declare(q2)
    ch.confirm_delivery()
    P = env.pika.BasicProperties
    h = {"neg": -2 ** 40, "neg32": -5, "pos": 2 ** 40}
    ch.basic_publish("", q, b"plain", P(headers=dict(h)))
    ch.basic_publish("", q, b"bcc", P(headers=dict(h, BCC=[q2])))
    for _ in range(2):
        trace.call("get q", ch.basic_get, q, auto_ack=True)
    trace.call("get q2", ch.basic_get, q2, auto_ack=True)


@scenario
def scenario_content_header_larger_than_frame_max(env, trace):
    """The properties travel in one frame: a payload over frame_max (131,072: RabbitMQ allows 8 bytes of
    slack over frame_max - 8) closes the connection."""
    for n in (131045, 131046):  # header payload 131,072 and 131,073 bytes
        conn = env.connect()
        ch = conn.channel()
        q = env.unique("q%d" % n)
        ch.queue_declare(q)
        ch.confirm_delivery()
        trace.call("publish, header payload %d" % (27 + n), ch.basic_publish, "", q, b"x",
                   env.pika.BasicProperties(headers={"big": "h" * n}))
        trace.state("connection", conn)
        if conn.is_open:
            trace.call("delivered", ch.queue_declare, q, passive=True)


@scenario
def scenario_publish_check_order(env, trace):
    """Which complaint a publish with several invalid properties gets: direct reply-to without a reply
    consumer, then user_id, expiration, CC/BCC header types, delivery mode."""
    conn = env.connect()
    q = env.unique("q")
    conn.channel().queue_declare(q)
    P = env.pika.BasicProperties
    reply = "amq.rabbitmq.reply-to"
    cases = [
        ("reply-to + bad expiration", P(reply_to=reply, expiration="soon")),
        ("reply-to + other user_id", P(reply_to=reply, user_id="bob")),
        ("reply-to + delivery_mode 3", P(reply_to=reply, delivery_mode=3)),
        ("reply-to + CC not an array", P(reply_to=reply, headers={"CC": 5})),
        ("user_id + bad expiration", P(user_id="bob", expiration="soon")),
        ("delivery_mode 3 + other user_id", P(user_id="bob", delivery_mode=3)),
        ("delivery_mode 3 + bad expiration", P(expiration="soon", delivery_mode=3)),
        ("delivery_mode 3 + CC not an array", P(headers={"CC": 5}, delivery_mode=3)),
        ("CC not an array + bad expiration", P(headers={"CC": 5}, expiration="soon")),
    ]
    for label, props in cases:
        ch = conn.channel()
        ch.confirm_delivery()
        trace.call(label, ch.basic_publish, "", q, b"m", props)
        trace.state(label + ": channel", ch)
    trace.call("nothing was routed", conn.channel().queue_declare, q, passive=True)


@scenario
def scenario_publish_oversized_to_missing_exchange(env, trace):
    """The body size is checked before the exchange is looked up."""
    conn = env.connect()
    ch = conn.channel()
    ch.confirm_delivery()
    trace.call("134217729 bytes to a missing exchange", ch.basic_publish, env.unique("missing"), "k",
               bytes(134217729))
    trace.state("channel", ch)

"""Queue policies: message TTL, dead-lettering and x-death, max-length/overflow, priority queues
(docs/semantics.md §10-§13).  x-expires is not covered (timing too coarse to observe deterministically).

TTLs are 50-100 ms and the scenarios sleep 0.3 s; asynchronous dead-lettering on the real server is
waited for with ``env.barrier``."""

from __future__ import annotations

from .harness import Collector, bodies, scenario, settle, wait_count

TTL_SLEEP = 0.3  # real seconds on RabbitMQ; manual-clock seconds on minimq (Env.sleep)


def chan(env):
    conn = env.connect()
    return conn, conn.channel()


def publish_all(ch, exchange, key, items, props=None):
    for b in items:
        ch.basic_publish(exchange, key, b, props)


def dlx_pair(env, ch, name="dlx", xtype="fanout", key=""):
    """A dead-letter exchange and a queue bound to it; returns (exchange, queue)."""
    dlx, dlq = env.unique(name), env.unique(name + ".q")
    ch.exchange_declare(dlx, xtype)
    ch.queue_declare(dlq)
    ch.queue_bind(dlq, dlx, routing_key=key)
    return dlx, dlq


# ------------------------------------------------------------------------------------------------
# TTL


@scenario
def scenario_ttl_queue(env, trace):
    conn, ch = chan(env)
    q = env.unique("q")
    trace.call("declare ttl 100", ch.queue_declare, q, arguments={"x-message-ttl": 100})
    ch.confirm_delivery()
    publish_all(ch, "", q, [b"a", b"b"])
    trace.call("count right away", ch.queue_declare, q, passive=True)
    env.sleep(TTL_SLEEP, conn)
    trace.call("count after ttl", ch.queue_declare, q, passive=True)
    trace.call("get", ch.basic_get, q)
    ch.basic_publish("", q, b"c")
    trace.call("fresh message: expiration property not added", ch.basic_get, q, auto_ack=True)


@scenario
def scenario_ttl_per_message(env, trace):
    conn, ch = chan(env)
    q = env.unique("q")
    ch.queue_declare(q)
    ch.confirm_delivery()
    P = env.pika.BasicProperties
    ch.basic_publish("", q, b"short", P(expiration="50"))
    ch.basic_publish("", q, b"long", P(expiration="60000"))
    ch.basic_publish("", q, b"none")
    env.sleep(TTL_SLEEP, conn)
    trace.call("count", ch.queue_declare, q, passive=True)
    trace.call("get: expiration delivered unchanged", ch.basic_get, q, auto_ack=True)
    trace.call("get", ch.basic_get, q, auto_ack=True)
    trace.call("get", ch.basic_get, q, auto_ack=True)


@scenario
def scenario_ttl_min_of_queue_and_message(env, trace):
    conn, ch = chan(env)
    q1, q2 = env.unique("q1"), env.unique("q2")
    ch.queue_declare(q1, arguments={"x-message-ttl": 60})
    ch.queue_declare(q2, arguments={"x-message-ttl": 60000})
    ch.confirm_delivery()
    P = env.pika.BasicProperties
    ch.basic_publish("", q1, b"queue-ttl-wins", P(expiration="60000"))
    ch.basic_publish("", q2, b"message-ttl-wins", P(expiration="60"))
    ch.basic_publish("", q2, b"queue-ttl-long", P(expiration="120000"))
    env.sleep(TTL_SLEEP, conn)
    trace.call("q1 count", ch.queue_declare, q1, passive=True)
    trace.call("q2 count", ch.queue_declare, q2, passive=True)
    trace.call("q2 get", ch.basic_get, q2, auto_ack=True)


@scenario
def scenario_ttl_zero(env, trace):
    conn, ch = chan(env)
    q, q2 = env.unique("q"), env.unique("q2")
    ch.queue_declare(q, arguments={"x-message-ttl": 0})
    ch.queue_declare(q2)
    ch.confirm_delivery()
    P = env.pika.BasicProperties
    trace.call("publish to ttl-0 queue", ch.basic_publish, "", q, b"gone", mandatory=True)
    trace.call("publish expiration 0", ch.basic_publish, "", q2, b"gone-too", P(expiration="0"), mandatory=True)
    env.barrier(conn)
    trace.call("q count", ch.queue_declare, q, passive=True)
    trace.call("q2 count", ch.queue_declare, q2, passive=True)
    trace.call("q get", ch.basic_get, q)
    trace.call("q2 get", ch.basic_get, q2)
    cons = conn.channel()
    col = Collector("c")
    cons.basic_consume(q, col, auto_ack=True)
    c2 = Collector("c2")
    cons.basic_consume(q2, c2, auto_ack=True)
    ch.basic_publish("", q, b"taken-by-consumer")
    ch.basic_publish("", q2, b"taken-by-consumer-2", P(expiration="0"))
    wait_count(env, conn, [col, c2], 2)
    col.log(trace, "consumer on ttl-0 queue")
    c2.log(trace, "consumer on plain queue, expiration 0")


@scenario
def scenario_ttl_zero_consumer_without_capacity(env, trace):
    conn, ch = chan(env)
    q = env.unique("q")
    ch.queue_declare(q, arguments={"x-message-ttl": 0})
    ch.confirm_delivery()
    cons = conn.channel()
    cons.basic_qos(prefetch_count=1)
    col = Collector("c")
    cons.basic_consume(q, col)
    ch.basic_publish("", q, b"first")
    ch.basic_publish("", q, b"second: consumer full")
    wait_count(env, conn, col, 1)
    trace.call("ack first", cons.basic_ack, col.items[0][0].delivery_tag)
    env.barrier(conn)
    ch.basic_publish("", q, b"third")
    wait_count(env, conn, col, 2)
    settle(env, conn)
    col.log_short(trace, "deliveries")


@scenario
def scenario_ttl_expired_behind_live_head(env, trace):
    conn, ch = chan(env)
    q = env.unique("q")
    ch.queue_declare(q)
    ch.confirm_delivery()
    P = env.pika.BasicProperties
    ch.basic_publish("", q, b"live")
    ch.basic_publish("", q, b"expires", P(expiration="50"))
    ch.basic_publish("", q, b"live-2")
    env.sleep(TTL_SLEEP, conn)
    trace.call("count includes the expired one behind the head", ch.queue_declare, q, passive=True)
    trace.call("get head: message_count already excludes it", ch.basic_get, q, auto_ack=True)
    trace.call("count", ch.queue_declare, q, passive=True)
    trace.call("get", ch.basic_get, q, auto_ack=True)
    trace.call("get", ch.basic_get, q, auto_ack=True)


@scenario
def scenario_ttl_unacked_then_requeued(env, trace):
    conn, ch = chan(env)
    dlx, dlq = dlx_pair(env, ch)
    q = env.unique("q")
    ch.queue_declare(q, arguments={"x-message-ttl": 100, "x-dead-letter-exchange": dlx})
    ch.confirm_delivery()
    ch.basic_publish("", q, b"held")
    trace.call("get (unacked: cannot expire)", ch.basic_get, q)
    env.sleep(TTL_SLEEP, conn)
    trace.call("dlq empty while held", ch.queue_declare, dlq, passive=True)
    trace.call("nack requeue past its expiry", ch.basic_nack, 1)
    env.barrier(conn)
    trace.call("source empty", ch.basic_get, q)
    trace.call("dead-lettered as expired", ch.basic_get, dlq, auto_ack=True)


@scenario
def scenario_ttl_consumer_waiting_for_capacity(env, trace):
    conn, ch = chan(env)
    q = env.unique("q")
    ch.queue_declare(q, arguments={"x-message-ttl": 100})
    cons = conn.channel()
    cons.basic_qos(prefetch_count=1)
    col = Collector("c")
    cons.basic_consume(q, col)
    ch.confirm_delivery()
    publish_all(ch, "", q, [b"m0", b"m1", b"m2"])
    wait_count(env, conn, col, 1)
    env.sleep(TTL_SLEEP, conn)
    trace.call("ack first after the others expired", cons.basic_ack, col.items[0][0].delivery_tag)
    settle(env, conn, 0.2)
    col.log_short(trace, "deliveries")
    trace.call("count", ch.queue_declare, q, passive=True)


# ------------------------------------------------------------------------------------------------
# dead-lettering


@scenario
def scenario_dlx_rejected_x_death(env, trace):
    conn, ch = chan(env)
    dlx, dlq = dlx_pair(env, ch)
    q = env.unique("q")
    ch.queue_declare(q, arguments={"x-dead-letter-exchange": dlx})
    ch.confirm_delivery()
    P = env.pika.BasicProperties
    props = P(content_type="text/plain", headers={"app": "v", "CC": ["cc-key"]}, priority=3, message_id="m1",
              correlation_id="c1", delivery_mode=2, timestamp=1600000000, type="t", app_id="a")
    ch.basic_publish("", q, b"payload", props)
    m = ch.basic_get(q)
    trace.call("reject requeue=False", ch.basic_reject, m[0].delivery_tag, requeue=False)
    env.barrier(conn)
    trace.call("source count", ch.queue_declare, q, passive=True)
    trace.call("dead-lettered copy", ch.basic_get, dlq)


@scenario
def scenario_dlx_routing_key_override(env, trace):
    conn, ch = chan(env)
    dlx, dlq = dlx_pair(env, ch, xtype="direct", key="dead")
    q = env.unique("q")
    ch.queue_declare(q, arguments={"x-dead-letter-exchange": dlx, "x-dead-letter-routing-key": "dead"})
    ch.confirm_delivery()
    P = env.pika.BasicProperties
    ch.basic_publish("", q, b"with-cc", P(headers={"CC": ["other"], "BCC": ["hidden"], "keep": 1}))
    m = ch.basic_get(q)
    ch.basic_nack(m[0].delivery_tag, requeue=False)
    env.barrier(conn)
    trace.call("dead-lettered with override key", ch.basic_get, dlq, auto_ack=True)


@scenario
def scenario_dlx_original_keys_with_cc(env, trace):
    conn, ch = chan(env)
    dlx = env.unique("dlx")
    ch.exchange_declare(dlx, "direct")
    qa, qcc = env.unique("by-key"), env.unique("by-cc")
    ch.queue_declare(qa)
    ch.queue_declare(qcc)
    q = env.unique("q")
    ch.queue_declare(q, arguments={"x-dead-letter-exchange": dlx})
    ch.queue_bind(qa, dlx, routing_key=q)
    ch.queue_bind(qcc, dlx, routing_key="cc-key")
    ch.confirm_delivery()
    P = env.pika.BasicProperties
    ch.basic_publish("", q, b"m", P(headers={"CC": ["cc-key"]}))
    m = ch.basic_get(q)
    ch.basic_reject(m[0].delivery_tag, requeue=False)
    env.barrier(conn)
    trace.call("via publish key", ch.basic_get, qa, auto_ack=True)
    trace.call("via CC key", ch.basic_get, qcc, auto_ack=True)


@scenario
def scenario_dlx_expired_original_expiration(env, trace):
    conn, ch = chan(env)
    dlx, dlq = dlx_pair(env, ch)
    q = env.unique("q")
    ch.queue_declare(q, arguments={"x-message-ttl": 50, "x-dead-letter-exchange": dlx})
    ch.confirm_delivery()
    P = env.pika.BasicProperties
    ch.basic_publish("", q, b"queue-ttl")
    ch.basic_publish("", q, b"message-ttl", P(expiration="60000", headers={"h": "v"}))
    env.sleep(TTL_SLEEP, conn)
    trace.call("dead 1", ch.basic_get, dlq, auto_ack=True)
    trace.call("dead 2", ch.basic_get, dlq, auto_ack=True)


@scenario
def scenario_dlx_default_exchange(env, trace):
    conn, ch = chan(env)
    target = env.unique("target")
    ch.queue_declare(target)
    q = env.unique("q")
    ch.queue_declare(q, arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": target})
    ch.confirm_delivery()
    ch.basic_publish("", q, b"to-default")
    m = ch.basic_get(q)
    ch.basic_reject(m[0].delivery_tag, requeue=False)
    env.barrier(conn)
    trace.call("arrived via default exchange", ch.basic_get, target, auto_ack=True)


@scenario
def scenario_dlx_missing_exchange(env, trace):
    conn, ch = chan(env)
    q = env.unique("q")
    missing = env.unique("missing")
    ch.queue_declare(q, arguments={"x-dead-letter-exchange": missing})
    ch.confirm_delivery()
    ch.basic_publish("", q, b"x")
    m = ch.basic_get(q)
    trace.call("reject", ch.basic_reject, m[0].delivery_tag, requeue=False)
    env.barrier(conn)
    trace.call("channel fine, queue empty", ch.queue_declare, q, passive=True)
    trace.call("create the DLX later", ch.exchange_declare, missing, "fanout")
    dq = env.unique("dq")
    ch.queue_declare(dq)
    ch.queue_bind(dq, missing)
    ch.basic_publish("", q, b"y")
    m = ch.basic_get(q)
    ch.basic_reject(m[0].delivery_tag, requeue=False)
    env.barrier(conn)
    trace.call("now dead-lettered", ch.basic_get, dq, auto_ack=True)


@scenario
def scenario_dlx_reject_count_increments(env, trace):
    conn, ch = chan(env)
    q = env.unique("q")
    ch.queue_declare(q, arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": q})
    ch.confirm_delivery()
    ch.basic_publish("", q, b"loop", env.pika.BasicProperties(headers={"orig": 1}))
    for i in range(3):
        m = ch.basic_get(q)
        trace.log("round %d" % i, list(m))
        ch.basic_reject(m[0].delivery_tag, requeue=False)
        env.barrier(conn)
    trace.call("after 3 rejections", ch.basic_get, q, auto_ack=True)


@scenario
def scenario_dlx_rejected_original_expiration(env, trace):
    conn, ch = chan(env)
    q = env.unique("q")
    ch.queue_declare(q, arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": q,
                                   "x-message-ttl": 60000})
    ch.confirm_delivery()
    P = env.pika.BasicProperties
    ch.basic_publish("", q, b"m", P(expiration="30000"))
    m = ch.basic_get(q)
    trace.call("reject", ch.basic_reject, m[0].delivery_tag, requeue=False)
    env.barrier(conn)
    m = ch.basic_get(q)
    trace.log("after reject", list(m))
    ch.basic_reject(m[0].delivery_tag, requeue=False)
    env.barrier(conn)
    m = ch.basic_get(q)
    trace.log("after second reject", list(m))
    trace.call("requeue it", ch.basic_nack, m[0].delivery_tag, requeue=True)
    env.barrier(conn)
    trace.call("count", ch.queue_declare, q, passive=True)


@scenario
def scenario_dlx_expiry_cycle_dropped(env, trace):
    conn, ch = chan(env)
    q = env.unique("self")
    ch.queue_declare(q, arguments={"x-message-ttl": 50, "x-dead-letter-exchange": "",
                                   "x-dead-letter-routing-key": q})
    ch.confirm_delivery()
    ch.basic_publish("", q, b"cycles-to-itself")
    env.sleep(TTL_SLEEP, conn)
    trace.call("dropped on its first return", ch.queue_declare, q, passive=True)
    a, b, w = env.unique("a"), env.unique("b"), env.unique("witness")
    fan = env.unique("fan")
    ch.exchange_declare(fan, "fanout")
    ch.queue_declare(w)
    ch.queue_declare(a, arguments={"x-message-ttl": 50, "x-dead-letter-exchange": "",
                                   "x-dead-letter-routing-key": b})
    ch.queue_declare(b, arguments={"x-message-ttl": 50, "x-dead-letter-exchange": fan})
    ch.queue_bind(a, fan)
    ch.queue_bind(w, fan)
    ch.basic_publish("", a, b"a-b-cycle")
    env.sleep(TTL_SLEEP, conn)
    env.barrier(conn)
    trace.call("a count (copy dropped: cycle)", ch.queue_declare, a, passive=True)
    trace.call("b count", ch.queue_declare, b, passive=True)
    trace.call("witness got its copy", ch.basic_get, w, auto_ack=True)


@scenario
def scenario_dlx_reject_after_expiry_not_a_cycle(env, trace):
    conn, ch = chan(env)
    a, b = env.unique("a"), env.unique("b")
    ch.queue_declare(a, arguments={"x-message-ttl": 50, "x-dead-letter-exchange": "",
                                   "x-dead-letter-routing-key": b})
    ch.queue_declare(b, arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": a})
    ch.confirm_delivery()
    ch.basic_publish("", a, b"m")
    env.sleep(TTL_SLEEP, conn)
    m = ch.basic_get(b)
    trace.log("in b after expiry in a", list(m))
    ch.basic_reject(m[0].delivery_tag, requeue=False)
    env.barrier(conn)
    env.sleep(TTL_SLEEP, conn)
    m = ch.basic_get(b)
    trace.log("back in b: a rejected death makes it no cycle", list(m))


@scenario
def scenario_dlx_nack_multiple_order(env, trace):
    conn, ch = chan(env)
    dlx, dlq = dlx_pair(env, ch)
    q = env.unique("q")
    ch.queue_declare(q, arguments={"x-dead-letter-exchange": dlx})
    ch.confirm_delivery()
    publish_all(ch, "", q, [b"m0", b"m1", b"m2", b"m3"])
    for _ in range(4):
        ch.basic_get(q)
    trace.call("ack 2", ch.basic_ack, 2)
    trace.call("nack multiple requeue=False", ch.basic_nack, 4, multiple=True, requeue=False)
    env.barrier(conn)
    bodies(trace, "dead-lettered order", ch, dlq)


@scenario
def scenario_dlx_not_for_purge_delete_requeue(env, trace):
    conn, ch = chan(env)
    dlx, dlq = dlx_pair(env, ch)
    q = env.unique("q")
    ch.queue_declare(q, arguments={"x-dead-letter-exchange": dlx})
    ch.confirm_delivery()
    publish_all(ch, "", q, [b"a", b"b", b"c"])
    m = ch.basic_get(q)
    ch.basic_nack(m[0].delivery_tag, requeue=True)
    m = ch.basic_get(q, auto_ack=True)
    trace.call("purge", ch.queue_purge, q)
    ch.basic_publish("", q, b"d")
    trace.call("delete", ch.queue_delete, q)
    env.barrier(conn)
    trace.call("dlq empty", ch.queue_declare, dlq, passive=True)


# ------------------------------------------------------------------------------------------------
# max-length / overflow


@scenario
def scenario_max_length_drop_head(env, trace):
    conn, ch = chan(env)
    dlx, dlq = dlx_pair(env, ch)
    q = env.unique("q")
    ch.queue_declare(q, arguments={"x-max-length": 3, "x-dead-letter-exchange": dlx})
    ch.confirm_delivery()
    for i in range(5):
        trace.call("publish m%d" % i, ch.basic_publish, "", q, b"m%d" % i, mandatory=True)
    env.barrier(conn)
    trace.call("count", ch.queue_declare, q, passive=True)
    bodies(trace, "queue", ch, q)
    trace.call("first dropped", ch.basic_get, dlq, auto_ack=True)
    bodies(trace, "rest dropped", ch, dlq)


@scenario
def scenario_max_length_unacked_not_counted(env, trace):
    conn, ch = chan(env)
    q = env.unique("q")
    ch.queue_declare(q, arguments={"x-max-length": 2})
    ch.confirm_delivery()
    publish_all(ch, "", q, [b"u0", b"u1"])
    ch.basic_get(q)
    ch.basic_get(q)
    publish_all(ch, "", q, [b"r0", b"r1"])
    trace.call("count: 2 ready, 2 unacked", ch.queue_declare, q, passive=True)
    trace.call("requeue both unacked", ch.basic_nack, 0, multiple=True, requeue=True)
    env.barrier(conn)
    trace.call("count", ch.queue_declare, q, passive=True)
    bodies(trace, "what is left", ch, q)


@scenario
def scenario_max_length_reject_publish(env, trace):
    conn, ch = chan(env)
    q = env.unique("q")
    ch.queue_declare(q, arguments={"x-max-length": 2, "x-overflow": "reject-publish"})
    ch.confirm_delivery()
    for i in range(4):
        trace.call("publish m%d" % i, ch.basic_publish, "", q, b"m%d" % i)
    trace.state("channel", ch)
    c2 = conn.channel()
    trace.call("without confirms: silently dropped", c2.basic_publish, "", q, b"quiet")
    trace.call("sync", c2.queue_declare, q, passive=True)
    trace.call("mandatory + refused", ch.basic_publish, "", q, b"m-mand", mandatory=True)
    bodies(trace, "queue", ch, q)
    trace.call("room again", ch.basic_publish, "", q, b"fits")
    trace.call("count", ch.queue_declare, q, passive=True)


@scenario
def scenario_max_length_reject_publish_dlx(env, trace):
    conn, ch = chan(env)
    dlx, dlq = dlx_pair(env, ch)
    q = env.unique("q")
    ch.queue_declare(q, arguments={"x-max-length": 1, "x-overflow": "reject-publish-dlx",
                                   "x-dead-letter-exchange": dlx})
    ch.confirm_delivery()
    trace.call("publish fits", ch.basic_publish, "", q, b"fits")
    trace.call("publish refused", ch.basic_publish, "", q, b"refused", env.pika.BasicProperties(message_id="r"))
    env.barrier(conn)
    trace.call("dead-lettered maxlen", ch.basic_get, dlq, auto_ack=True)
    trace.call("queue", ch.basic_get, q, auto_ack=True)


@scenario
def scenario_max_length_reject_publish_multi_queue(env, trace):
    conn, ch = chan(env)
    x = env.unique("x")
    ch.exchange_declare(x, "fanout")
    full, free = env.unique("full"), env.unique("free")
    ch.queue_declare(full, arguments={"x-max-length": 0, "x-overflow": "reject-publish"})
    ch.queue_declare(free)
    ch.queue_bind(full, x)
    ch.queue_bind(free, x)
    ch.confirm_delivery()
    trace.call("one target refuses", ch.basic_publish, x, "", b"m")
    trace.call("the other got it", ch.basic_get, free, auto_ack=True)


@scenario
def scenario_max_length_bytes(env, trace):
    conn, ch = chan(env)
    q, r = env.unique("drop"), env.unique("reject")
    ch.queue_declare(q, arguments={"x-max-length-bytes": 10})
    ch.queue_declare(r, arguments={"x-max-length-bytes": 10, "x-overflow": "reject-publish"})
    ch.confirm_delivery()
    P = env.pika.BasicProperties
    for b in [b"aaaa", b"bbbb", b"cccc"]:
        ch.basic_publish("", q, b, P(headers={"big-header": "x" * 100}))
    trace.call("drop-head: count", ch.queue_declare, q, passive=True)
    ch.basic_publish("", q, b"x" * 11)
    trace.call("drop-head: oversize message drops itself too", ch.queue_declare, q, passive=True)
    for b in [b"aaaa", b"bbbb", b"cc", b"d", b""]:
        trace.call("reject-publish %r" % b, ch.basic_publish, "", r, b)
    bodies(trace, "reject queue", ch, r)


@scenario
def scenario_max_length_zero(env, trace):
    conn, ch = chan(env)
    q = env.unique("q")
    ch.queue_declare(q, arguments={"x-max-length": 0})
    ch.confirm_delivery()
    trace.call("publish, nobody waiting", ch.basic_publish, "", q, b"lost")
    trace.call("count", ch.queue_declare, q, passive=True)
    cons = conn.channel()
    col = Collector("c")
    cons.basic_consume(q, col)
    trace.call("publish with consumer", ch.basic_publish, "", q, b"delivered")
    wait_count(env, conn, col, 1)
    col.log_short(trace, "consumer got")
    trace.call("nack requeue into max-length 0", cons.basic_nack, col.items[0][0].delivery_tag)
    settle(env, conn)
    col.log_short(trace, "consumer got")


@scenario
def scenario_max_length_requeue_drops_head(env, trace):
    conn, ch = chan(env)
    dlx, dlq = dlx_pair(env, ch)
    q = env.unique("q")
    ch.queue_declare(q, arguments={"x-max-length": 2, "x-dead-letter-exchange": dlx})
    ch.confirm_delivery()
    publish_all(ch, "", q, [b"old0", b"old1"])
    ch.basic_get(q)
    ch.basic_get(q)
    publish_all(ch, "", q, [b"new0", b"new1"])
    trace.call("requeue the two old ones", ch.basic_nack, 2, multiple=True, requeue=True)
    env.barrier(conn)
    bodies(trace, "queue", ch, q)
    for _ in range(3):
        trace.call("dlq", ch.basic_get, dlq, auto_ack=True)


@scenario
def scenario_max_length_reject_publish_requeue_exceeds(env, trace):
    conn, ch = chan(env)
    q = env.unique("q")
    ch.queue_declare(q, arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    ch.confirm_delivery()
    ch.basic_publish("", q, b"a")
    ch.basic_get(q)
    ch.basic_publish("", q, b"b")
    trace.call("requeue over the limit", ch.basic_nack, 1)
    env.barrier(conn)
    trace.call("count", ch.queue_declare, q, passive=True)
    trace.call("publish while over", ch.basic_publish, "", q, b"c")
    bodies(trace, "queue", ch, q)


@scenario
def scenario_tx_commit_with_reject_publish(env, trace):
    conn, ch = chan(env)
    q = env.unique("q")
    ch.queue_declare(q, arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    ch.tx_select()
    ch.basic_publish("", q, b"a")
    ch.basic_publish("", q, b"b")
    trace.call("commit", ch.tx_commit)
    trace.state("channel", ch)
    c2 = conn.channel()
    env.barrier(conn)
    bodies(trace, "queue", c2, q)


# ------------------------------------------------------------------------------------------------
# priority queues


@scenario
def scenario_priority_queue_order(env, trace):
    conn, ch = chan(env)
    q = env.unique("q")
    trace.call("declare x-max-priority 5", ch.queue_declare, q, arguments={"x-max-priority": 5})
    ch.confirm_delivery()
    P = env.pika.BasicProperties
    for body, pr in [(b"p1", 1), (b"none", None), (b"p5", 5), (b"p3", 3), (b"p9", 9), (b"p0", 0), (b"p5b", 5),
                     (b"p200", 200), (b"p3b", 3)]:
        ch.basic_publish("", q, body, P(priority=pr))
    for i in range(10):
        trace.call("get %d" % i, ch.basic_get, q, auto_ack=True)


@scenario
def scenario_priority_queue_requeue(env, trace):
    conn, ch = chan(env)
    q = env.unique("q")
    ch.queue_declare(q, arguments={"x-max-priority": 3})
    ch.confirm_delivery()
    P = env.pika.BasicProperties
    for body, pr in [(b"h1", 3), (b"h2", 3), (b"l1", 1), (b"l2", 1)]:
        ch.basic_publish("", q, body, P(priority=pr))
    got = [ch.basic_get(q) for _ in range(3)]
    trace.log("got", [[m.delivery_tag, b] for m, _p, b in got])
    ch.basic_publish("", q, b"h3", P(priority=3))
    trace.call("nack all requeue", ch.basic_nack, 0, multiple=True)
    env.barrier(conn)
    bodies(trace, "order after requeue", ch, q)


@scenario
def scenario_priority_queue_consumer(env, trace):
    conn, ch = chan(env)
    q = env.unique("q")
    ch.queue_declare(q, arguments={"x-max-priority": 10})
    ch.confirm_delivery()
    P = env.pika.BasicProperties
    for i, pr in enumerate([1, 10, 5, 10, 0]):
        ch.basic_publish("", q, b"m%d" % i, P(priority=pr))
    cons = conn.channel()
    cons.basic_qos(prefetch_count=1)
    col = Collector("c", ack=True)
    cons.basic_consume(q, col)
    wait_count(env, conn, col, 5)
    trace.log("delivery order", [[m.delivery_tag, p.priority, b] for m, p, b in col.items])


@scenario
def scenario_priority_queue_zero_and_plain(env, trace):
    conn, ch = chan(env)
    q0 = env.unique("q0")
    ch.queue_declare(q0, arguments={"x-max-priority": 0})
    ch.confirm_delivery()
    P = env.pika.BasicProperties
    for body, pr in [(b"a", 5), (b"b", 0), (b"c", 9)]:
        ch.basic_publish("", q0, body, P(priority=pr))
    bodies(trace, "max-priority 0: FIFO", ch, q0)


@scenario
def scenario_priority_queue_max_length(env, trace):
    conn, ch = chan(env)
    q = env.unique("q")
    ch.queue_declare(q, arguments={"x-max-priority": 5, "x-max-length": 2})
    ch.confirm_delivery()
    P = env.pika.BasicProperties
    for body, pr in [(b"low", 1), (b"high", 5), (b"mid", 3)]:
        ch.basic_publish("", q, body, P(priority=pr))
    bodies(trace, "which one was dropped", ch, q)


@scenario
def scenario_priority_queue_ttl(env, trace):
    conn, ch = chan(env)
    q = env.unique("q")
    ch.queue_declare(q, arguments={"x-max-priority": 5})
    ch.confirm_delivery()
    P = env.pika.BasicProperties
    ch.basic_publish("", q, b"low-live", P(priority=1))
    ch.basic_publish("", q, b"high-expiring", P(priority=5, expiration="50"))
    ch.basic_publish("", q, b"high-live", P(priority=5))
    env.sleep(TTL_SLEEP, conn)
    trace.call("count", ch.queue_declare, q, passive=True)
    for _ in range(3):
        trace.call("get", ch.basic_get, q, auto_ack=True)


@scenario
def scenario_max_length_reject_publish_before_consumer(env, trace):
    conn, ch = chan(env)
    q = env.unique("q")
    ch.queue_declare(q, arguments={"x-max-length": 0, "x-overflow": "reject-publish"})
    cons = conn.channel()
    col = Collector("c")
    cons.basic_consume(q, col, auto_ack=True)
    ch.confirm_delivery()
    trace.call("publish with a waiting consumer", ch.basic_publish, "", q, b"m")
    settle(env, conn)
    col.log(trace, "consumer got")


@scenario
def scenario_ttl_zero_behind_live_head(env, trace):
    conn, ch = chan(env)
    q = env.unique("q")
    ch.queue_declare(q)
    ch.confirm_delivery()
    ch.basic_publish("", q, b"live")
    ch.basic_publish("", q, b"ttl-0", env.pika.BasicProperties(expiration="0"))
    trace.call("count", ch.queue_declare, q, passive=True)
    trace.call("get live", ch.basic_get, q, auto_ack=True)
    trace.call("get", ch.basic_get, q, auto_ack=True)


@scenario
def scenario_dlx_bcc_keys(env, trace):
    conn, ch = chan(env)
    dlx = env.unique("dlx")
    ch.exchange_declare(dlx, "direct")
    by_key, by_bcc = env.unique("by-key"), env.unique("by-bcc")
    ch.queue_declare(by_key)
    ch.queue_declare(by_bcc)
    q, other = env.unique("q"), env.unique("other")
    ch.queue_declare(q, arguments={"x-dead-letter-exchange": dlx})
    ch.queue_declare(other)
    ch.queue_bind(by_key, dlx, routing_key=q)
    ch.queue_bind(by_bcc, dlx, routing_key=other)
    ch.confirm_delivery()
    ch.basic_publish("", q, b"m", env.pika.BasicProperties(headers={"BCC": [other]}))
    trace.call("bcc copy", ch.basic_get, other, auto_ack=True)
    m = ch.basic_get(q)
    ch.basic_reject(m[0].delivery_tag, requeue=False)
    env.barrier(conn)
    trace.call("dead-lettered via publish key", ch.basic_get, by_key, auto_ack=True)
    trace.call("dead-lettered via BCC key?", ch.basic_get, by_bcc, auto_ack=True)


@scenario
def scenario_negative_long_after_dead_letter(env, trace):
    conn, ch = chan(env)
    q = env.unique("q")
    target = env.unique("target")
    ch.queue_declare(target)
    ch.queue_declare(q, arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": target})
    ch.confirm_delivery()
    ch.basic_publish("", q, b"m", env.pika.BasicProperties(headers={"neg": -2 ** 40, "pos": 2 ** 40, "small": -3}))
    m = ch.basic_get(q)
    ch.basic_reject(m[0].delivery_tag, requeue=False)
    env.barrier(conn)
    trace.call("dead-lettered headers", ch.basic_get, target, auto_ack=True)


@scenario
def scenario_quorum_delivery_count_on_get_and_consume(env, trace):
    conn, ch = chan(env)
    q = env.unique("qq")
    trace.call("declare quorum", ch.queue_declare, q, durable=True, arguments={"x-queue-type": "quorum"})
    ch.confirm_delivery()
    P = env.pika.BasicProperties
    ch.basic_publish("", q, b"a", P(headers={"h": 1}))
    ch.basic_publish("", q, b"b")
    first = trace.call("get a", ch.basic_get, q)
    trace.call("reject a, requeue", ch.basic_reject, first[0].delivery_tag)
    trace.call("get b", ch.basic_get, q)
    trace.call("get a again", ch.basic_get, q)
    trace.call("recover", ch.basic_recover, requeue=True)
    env.barrier(conn)
    c2 = conn.channel()
    got = Collector("consumer", ack=True)
    c2.basic_consume(q, got)
    env.wait_for(conn, lambda: len(got) == 2)
    got.log(trace, "consumed after recover")
    ch.basic_publish("", q, b"c")
    env.wait_for(conn, lambda: len(got) == 3)
    got.log(trace, "a first delivery to a consumer")


@scenario
def scenario_dlx_with_x_death_already_in_the_headers(env, trace):
    """Only a message without an x-death header gets x-first-death-*; an array is extended, another
    type replaced."""
    conn, ch = chan(env)
    dlx, dlq = dlx_pair(env, ch)
    q = env.unique("q")
    ch.queue_declare(q, arguments={"x-dead-letter-exchange": dlx})
    ch.confirm_delivery()
    P = env.pika.BasicProperties
    earlier = {"count": 2, "reason": "expired", "queue": "elsewhere", "exchange": "", "routing-keys": ["k"]}
    for label, headers in [("empty x-death array", {"x-death": []}),
                           ("x-death of another queue", {"x-death": [earlier]}),
                           ("x-death as a string", {"x-death": "dead"}),
                           ("stale x-first-death-* without x-death", {"x-first-death-queue": "old",
                                                                      "x-first-death-reason": "old",
                                                                      "x-first-death-exchange": "old"})]:
        ch.basic_publish("", q, label.encode(), P(headers=headers))
        m = ch.basic_get(q)
        ch.basic_reject(m[0].delivery_tag, requeue=False)
        env.barrier(conn)
        trace.call(label, ch.basic_get, dlq, auto_ack=True)
    first = None
    ch.basic_publish("", q, b"twice", P(headers={"app": 1}))
    m = ch.basic_get(q)
    ch.basic_reject(m[0].delivery_tag, requeue=False)
    env.barrier(conn)
    first = ch.basic_get(dlq, auto_ack=True)
    ch.basic_publish("", q, b"twice", P(headers=first[1].headers))  # republished with its headers copied
    m = ch.basic_get(q)
    ch.basic_reject(m[0].delivery_tag, requeue=False)
    env.barrier(conn)
    trace.call("dead-lettered twice through the same queue", ch.basic_get, dlq, auto_ack=True)

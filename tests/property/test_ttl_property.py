"""With random TTLs and random clock advances, no expired message is ever delivered, and every message
that expires is dead-lettered exactly once (docs/semantics.md §10, §11)."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minimq

ops = st.lists(
    st.one_of(
        st.tuples(st.just("publish"), st.one_of(st.none(), st.integers(0, 50))),
        st.tuples(st.just("advance"), st.integers(0, 60)),
        st.tuples(st.just("get"), st.sampled_from(["ack", "requeue", "reject", "hold"])),
        st.tuples(st.just("settle_held"), st.sampled_from(["ack", "requeue"])),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(queue_ttl=st.one_of(st.none(), st.integers(0, 40)), steps=ops, with_consumer=st.booleans())
def test_expired_messages_never_delivered_and_dead_lettered_once(queue_ttl, steps, with_consumer):
    clock = minimq.ManualClock()
    broker = minimq.Broker(clock=clock)
    ch = broker.channel()
    ch.exchange_declare("dlx", "fanout")
    ch.queue_declare("dead")
    ch.queue_bind("dead", "dlx")
    args = {"x-dead-letter-exchange": "dlx"}
    if queue_ttl is not None:
        args["x-message-ttl"] = queue_ttl
    ch.queue_declare("q", arguments=args)

    now_ms = 0
    deadline = {}  # body -> expiry time in ms (None: never)
    published_at = {}
    delivered_at = []  # (body, time)
    acked, rejected = set(), set()
    held = []
    seq = 0

    consumer_ch = broker.channel()
    if with_consumer:
        consumer_ch.basic_qos(prefetch_count=1)

        def on_message(delivery):
            delivered_at.append((delivery.body, now_ms))
            held.append(delivery)

        consumer_ch.basic_consume("q", on_message)

    def settle(delivery, how):
        if how == "ack":
            delivery.ack()
            acked.add(delivery.body)
        elif how == "reject":
            delivery.reject(requeue=False)
            rejected.add(delivery.body)
        else:
            delivery.reject(requeue=True)

    for op, arg in steps:
        if op == "publish":
            seq += 1
            body = b"m%d" % seq
            props = None if arg is None else minimq.Properties(expiration=str(arg))
            ttls = [t for t in (arg, queue_ttl) if t is not None]
            deadline[body] = now_ms + min(ttls) if ttls else None
            published_at[body] = now_ms
            ch.basic_publish("", "q", body, props)
        elif op == "advance":
            now_ms += arg
            clock.advance(arg / 1000)
        elif op == "get":
            delivery = ch.basic_get("q")
            if delivery is not None:
                delivered_at.append((delivery.body, now_ms))
                if arg == "hold":
                    held.append(delivery)
                else:
                    settle(delivery, arg)
        elif op == "settle_held" and held:
            settle(held.pop(0), arg)
        broker._check()

    for body, at in delivered_at:
        expiry = deadline[body]
        # TTL 0 is delivered only when a consumer takes it at the instant it is published (§10.2)
        handed_over_at_publish = at == published_at[body] == expiry
        assert expiry is None or at < expiry or handed_over_at_publish, \
            f"{body!r} delivered at {at} ms but expired at {expiry} ms"

    # Let everything with a deadline expire: settle what is held, then drain the queue's heads.
    consumer_ch.close()
    for delivery in held:
        if delivery.channel.is_open:
            delivery.reject(requeue=True)
    clock.advance(1000)
    leftover = set()
    while (d := ch.basic_get("q", auto_ack=True)) is not None:
        leftover.add(d.body)
    dead = []
    while (d := ch.basic_get("dead", auto_ack=True)) is not None:
        dead.append(d.body)
    assert len(dead) == len(set(dead)), f"dead-lettered twice: {sorted(dead)}"
    for body, expiry in deadline.items():
        if body in acked:
            assert body not in dead
        elif body in rejected:
            assert body in dead
        elif expiry is None:
            assert body in leftover or body in dead
        else:
            assert body in dead, f"{body!r} expired but was not dead-lettered"
    assert not (set(dead) & leftover)

"""The ``minimq`` command: run the classic patterns, explain a publish, draw a topology.

    python -m minimq demo topics
    python -m minimq explain definitions.json logs web.error --format svg -o path.svg
    python -m minimq topology definitions.json --format mermaid
    python -m minimq move --store broker.db orders.dlq orders --limit 10

A front end on the package's public face (``from minimq import ...`` only), never imported by the
core.  Every command works on a fresh in-process broker, except ``move``, which opens a broker on an
SQLite store file and changes it.  Errors a user can cause (a missing or
malformed file, an unknown vhost or exchange, a bad ``--header``) print one line to stderr and exit
1, with no traceback; argparse's usage errors exit 2.  See docs/cli.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Callable, Sequence, TextIO

from minimq import Broker, DefinitionsError, Event, NotAllowed, NotFound, Properties
from minimq.persistence import SQLiteStore, StoreError

__all__ = ["main", "narrate", "PATTERNS", "CliError"]


class CliError(Exception):
    """A mistake the user can fix; ``main`` prints ``minimq: <message>`` and returns ``code``."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


# -- the narrated trace -----------------------------------------------------------------------------
def _body(event: Event) -> str:
    message = event.message
    if message is None:
        return "?"
    body = bytes(message.body)
    try:
        text = body.decode()
    except UnicodeDecodeError:
        return f"<{len(body)} bytes>"
    return repr(text if len(text) <= 40 else text[:37] + "...")


def narrate(event: Event) -> str | None:
    """One readable line for ``event``, or None for kinds the trace leaves out."""
    kind = event.kind
    if kind == "publish":
        return f"publish {_body(event)} to exchange {event.exchange!r} key {event.routing_key!r}"
    if kind == "route":
        return f"  route -> queues {list(event.queues)}" if event.queues else "  route -> no queue (unroutable)"
    if kind == "enqueue":
        return f"  enqueue in queue {event.queue!r}"
    if kind == "deliver":
        if event.consumer_tag is None:
            return f"  get {_body(event)} from queue {event.queue!r} (delivery tag {event.delivery_tag})"
        mode = ", auto-ack" if event.auto_ack else ""
        return f"  deliver {_body(event)} to consumer {event.consumer_tag} (queue {event.queue!r}{mode})"
    if kind in ("ack", "nack", "reject"):
        requeue = f", requeue={event.requeue}" if kind != "ack" else ""
        by = f" from consumer {event.consumer_tag}" if event.consumer_tag else ""
        return f"  {kind} delivery tag {event.delivery_tag}{by} (queue {event.queue!r}{requeue})"
    if kind == "return":
        return f"  return to the publisher ({event.reason})"
    if kind in ("drop", "expire"):
        where = f" from queue {event.queue!r}" if event.queue is not None else ""
        count = f" {event.count} messages" if event.count is not None else ""
        return f"  {kind}{count}{where} ({event.reason})"
    if kind == "dead-letter":
        return f"  dead-letter from queue {event.queue!r} ({event.reason}) -> {list(event.queues or ())}"
    if kind == "confirm":
        return f"  confirm {'ack' if event.detail else 'nack'} for publish {event.delivery_tag}"
    if kind in ("queue.created", "queue.deleted"):
        verb = "declare" if kind == "queue.created" else "delete"
        return f"{verb} queue {event.queue!r} ({event.detail})"
    if kind in ("exchange.created", "exchange.deleted"):
        verb = "declare" if kind == "exchange.created" else "delete"
        return f"{verb} exchange {event.exchange!r} ({event.detail})"
    if kind in ("binding.created", "binding.deleted"):
        verb = "bind" if kind == "binding.created" else "unbind"
        return f"{verb} {event.detail} {event.queue!r} to exchange {event.exchange!r} key {event.routing_key!r}"
    return None


# -- the six classic patterns, compact, on a broker they are given --------------------------------
def _hello_world(broker: Broker, say: Callable[[str], None]) -> None:
    ch = broker.channel()
    ch.queue_declare("hello")
    ch.basic_publish("", "hello", b"Hello World!")
    ch.basic_consume("hello", lambda d: say(f"     [consumer] received {d.body.decode()!r}"), auto_ack=True,
                     consumer_tag="ctag-hello")


def _work_queues(broker: Broker, say: Callable[[str], None]) -> None:
    producer = broker.channel()
    producer.queue_declare("task_queue", durable=True)
    for name in ("worker-1", "worker-2"):
        ch = broker.channel()
        ch.basic_qos(prefetch_count=1)

        def work(delivery: Any, name: str = name) -> None:
            say(f"     [{name}] did {delivery.body.decode()!r}")
            delivery.ack()

        ch.basic_consume("task_queue", work, consumer_tag=f"ctag-{name}")
    for i in range(1, 5):
        producer.basic_publish("", "task_queue", f"task {i}".encode(), Properties(delivery_mode=2))


def _publish_subscribe(broker: Broker, say: Callable[[str], None]) -> None:
    producer = broker.channel()
    producer.exchange_declare("logs", "fanout")
    for name in ("screen", "disk"):
        ch = broker.channel()
        queue = ch.queue_declare(name, exclusive=True).queue
        ch.queue_bind(queue, "logs")
        ch.basic_consume(queue, lambda d, n=name: say(f"     [{n}] got {d.body.decode()!r}"), auto_ack=True,
                         consumer_tag=f"ctag-{name}")
    for line in ("info: service started", "error: request failed"):
        producer.basic_publish("logs", "", line.encode())


def _routing(broker: Broker, say: Callable[[str], None]) -> None:
    producer = broker.channel()
    producer.exchange_declare("direct_logs", "direct")
    for name, keys in (("disk", ["error"]), ("screen", ["info", "error"])):
        ch = broker.channel()
        ch.queue_declare(name, exclusive=True)
        for key in keys:
            ch.queue_bind(name, "direct_logs", key)
        ch.basic_consume(name, lambda d, n=name: say(f"     [{n}] {d.routing_key}: {d.body.decode()!r}"),
                         auto_ack=True, consumer_tag=f"ctag-{name}")
    for severity in ("debug", "info", "error"):
        producer.basic_publish("direct_logs", severity, f"something at {severity} level".encode())


def _topics(broker: Broker, say: Callable[[str], None]) -> None:
    producer = broker.channel()
    producer.exchange_declare("topic_logs", "topic")
    for queue, patterns in (("Q1", ["*.orange.*"]), ("Q2", ["*.*.rabbit", "lazy.#"])):
        ch = broker.channel()
        ch.queue_declare(queue, exclusive=True)
        for pattern in patterns:
            ch.queue_bind(queue, "topic_logs", pattern)
        ch.basic_consume(queue, lambda d, q=queue: say(f"     [{q}] got {d.routing_key!r}"), auto_ack=True,
                         consumer_tag=f"ctag-{queue}")
    for key in ("quick.orange.rabbit", "lazy.brown.fox", "quick.brown.fox", "lazy"):
        producer.basic_publish("topic_logs", key, key.encode())


def _rpc(broker: Broker, say: Callable[[str], None]) -> None:
    server = broker.channel()
    server.queue_declare("rpc_queue")

    def serve(request: Any) -> None:
        n = int(request.body)
        a, b = 0, 1
        for _ in range(n):
            a, b = b, a + b
        props = request.properties
        server.basic_publish("", props.reply_to, str(a).encode(), Properties(correlation_id=props.correlation_id))
        request.ack()

    server.basic_consume("rpc_queue", serve, consumer_tag="ctag-rpc-server")
    client = broker.channel()
    callback_queue = client.queue_declare("", exclusive=True).queue
    client.basic_consume(callback_queue,
                         lambda d: say(f"     [client] reply {d.body.decode()!r} for {d.properties.correlation_id}"),
                         auto_ack=True, consumer_tag="ctag-rpc-client")
    for n in (10, 30):
        client.basic_publish("", "rpc_queue", str(n).encode(),
                             Properties(reply_to=callback_queue, correlation_id=f"fib-{n}"))


#: name -> (title, the example script it condenses, function(broker, say)); names follow examples/
PATTERNS: dict[str, tuple[str, str, Callable[[Broker, Callable[[str], None]], None]]] = {
    "hello-world": ("Hello World: the default exchange routes by queue name", "1_hello_world.py", _hello_world),
    "work-queues": ("Work queues: manual acks, prefetch 1", "2_work_queues.py", _work_queues),
    "publish-subscribe": ("Publish/subscribe: a fanout exchange copies to every bound queue",
                          "3_publish_subscribe.py", _publish_subscribe),
    "routing": ("Routing: a direct exchange matches the routing key exactly", "4_routing.py", _routing),
    "topics": ("Topics: '*' is one word, '#' is zero or more", "5_topics.py", _topics),
    "rpc": ("RPC: reply_to + correlation_id, a callback queue", "6_rpc.py", _rpc),
}
_ALIASES = {"hello": "hello-world", "pubsub": "publish-subscribe"}


def _pattern_name(given: str) -> str:
    name = given.lower().replace("_", "-")
    for number, (key, (_title, script, _run)) in enumerate(PATTERNS.items(), 1):
        if name in (str(number), script[:-3].replace("_", "-")):
            return key
    name = _ALIASES.get(name, name)
    if name not in PATTERNS:
        raise CliError(f"unknown pattern {given!r}; valid names: {', '.join(PATTERNS)}", code=2)
    return name


def _demo(args: argparse.Namespace, out: TextIO) -> int:
    names = list(PATTERNS) if args.pattern in (None, "all") else [_pattern_name(args.pattern)]
    for number, name in enumerate(names, 1):
        title, script, run = PATTERNS[name]
        if len(names) > 1:
            print(f"== {number}/{len(names)} {name}: {title}  (examples/{script})", file=out)
        else:
            print(f"== {name}: {title}  (examples/{script})", file=out)
        broker = Broker()
        say = lambda line: print(line, file=out)  # noqa: E731
        subscription = broker.subscribe(lambda event: (line := narrate(event)) is None or say(line))
        try:
            run(broker, say)
        finally:
            subscription.close()
            broker.close()
        print(file=out)
    return 0


# -- definitions-based commands ---------------------------------------------------------------------
def _load(path: str, vhost: str) -> Broker:
    """A fresh broker with the definitions file imported, ``vhost`` checked to exist."""
    if not os.path.exists(path):
        raise CliError(f"no such file: {path}")
    broker = Broker()
    try:
        broker.import_definitions(path)
    except DefinitionsError as error:
        if error.reason.startswith("not valid JSON: "):
            raise CliError(f"{path} is not valid JSON: {error.reason[len('not valid JSON: '):]}") from None
        raise CliError(f"{path}: {error}" if error.path != path else str(error)) from None
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror or error}") from None
    if vhost not in broker.vhosts:
        raise CliError(f"unknown vhost {vhost!r}; the vhosts are: {', '.join(repr(v) for v in broker.vhosts)}")
    return broker


def _header(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise CliError(f"bad --header {text!r}: write NAME=VALUE, e.g. --header format=pdf")
    lowered = value.lower()
    if lowered in ("true", "false"):
        return name, lowered == "true"
    try:
        return name, int(value)
    except ValueError:
        return name, value


def _emit(text: str, output: str | None, out: TextIO, what: str) -> None:
    if output is None:
        out.write(text if text.endswith("\n") else text + "\n")
        return
    try:
        with open(output, "w", encoding="utf-8") as file:
            file.write(text)
    except OSError as error:
        raise CliError(f"cannot write {output}: {error.strerror or error}") from None
    print(f"wrote {what} to {output}", file=out)


def _render(drawing: Any, fmt: str) -> str:
    if fmt == "text":
        return str(drawing) if not hasattr(drawing, "to_text") else drawing.to_text()
    return {"svg": drawing.to_svg, "mermaid": drawing.to_mermaid, "dot": drawing.to_dot}[fmt]()


def _explain(args: argparse.Namespace, out: TextIO) -> int:
    headers = dict(_header(h) for h in args.header) if args.header else None
    broker = _load(args.definitions, args.vhost)
    try:
        exchanges = [info.name for info in broker.list_exchanges(args.vhost)]
        if args.exchange not in exchanges:
            shown = ", ".join(repr(name) if name else "'' (the default exchange)" for name in exchanges)
            raise CliError(f"no exchange {args.exchange!r} in vhost {args.vhost!r}; its exchanges are: {shown}")
        explanation = broker.explain(args.exchange, args.routing_key, headers=headers, vhost=args.vhost)
        _emit(_render(explanation, args.format), args.output, out, f"the {args.format} explanation")
    finally:
        broker.close()
    return 0


def _topology(args: argparse.Namespace, out: TextIO) -> int:
    broker = _load(args.definitions, args.vhost)
    try:
        _emit(_render(broker.topology(args.vhost), args.format), args.output, out,
              f"the {args.format} topology of vhost {args.vhost!r}")
    finally:
        broker.close()
    return 0


# -- store-based commands ---------------------------------------------------------------------------
def _move(args: argparse.Namespace, out: TextIO) -> int:
    if not os.path.exists(args.store):
        raise CliError(f"no such file: {args.store}")
    if args.limit is not None and args.limit < 0:
        raise CliError(f"--limit must be >= 0, got {args.limit}", code=2)
    try:
        broker = Broker(store=SQLiteStore(args.store))
    except StoreError as error:
        raise CliError(f"cannot open the store {args.store}: {error}") from None
    try:
        if args.vhost not in broker.vhosts:
            raise CliError(f"unknown vhost {args.vhost!r}; the vhosts are: "
                           f"{', '.join(repr(v) for v in broker.vhosts)}")
        try:
            report = broker.move(args.source, args.exchange, routing_key=args.routing_key, limit=args.limit,
                                 vhost=args.vhost)
        except NotFound as error:
            raise CliError(error.reply_text.replace("NOT_FOUND - ", "")) from None
        key = f"key {args.routing_key!r}" if args.routing_key is not None else "their original keys"
        print(f"moved {report.moved} message{'s' if report.moved != 1 else ''} from queue {args.source!r} "
              f"to exchange {args.exchange!r} with {key}", file=out)
        if report.unroutable:
            print(f"{len(report.unroutable)} unroutable message{'s' if len(report.unroutable) != 1 else ''} "
                  f"left in {args.source!r} (no queue took them)", file=out)
    finally:
        broker.close()
    return 0 if not report.unroutable else 3


# -- the parser and the entry point -----------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """The ``minimq`` argument parser, with one subcommand per command."""
    parser = argparse.ArgumentParser(
        prog="minimq", description="minimq, an in-process broker with RabbitMQ's AMQP model: "
                                   "run the classic patterns, explain a publish, draw a topology, "
                                   "move messages in a store file.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser("demo", help="run a classic pattern with a narrated event trace",
                               description="Run one of the six classic patterns (or all of them) on a fresh "
                                           "broker and print one line per broker event.")
    demo.add_argument("pattern", nargs="?", metavar="PATTERN",
                      help=f"one of: {', '.join(PATTERNS)} (default: all)")
    demo.set_defaults(run=_demo)

    explain = commands.add_parser("explain", help="what publishing a message would do, and why",
                                  description="Import a RabbitMQ definitions file into a fresh broker and "
                                              "explain a publish to EXCHANGE with ROUTING_KEY (nothing is published).")
    explain.add_argument("definitions", metavar="DEFINITIONS", help="a RabbitMQ definitions JSON file")
    explain.add_argument("exchange", metavar="EXCHANGE", help="the exchange to publish to ('' is the default exchange)")
    explain.add_argument("routing_key", metavar="ROUTING_KEY", help="the routing key")
    explain.add_argument("--header", action="append", default=[], metavar="NAME=VALUE",
                         help="a message header (repeatable); integers and true/false are converted")
    explain.add_argument("--vhost", default="/", help="the virtual host (default: /)")
    explain.add_argument("--format", choices=("text", "svg", "mermaid", "dot"), default="text",
                         help="text (default) or a picture of the vhost with the path highlighted")
    explain.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    explain.set_defaults(run=_explain)

    topology = commands.add_parser("topology", help="draw the exchanges, queues and bindings of a vhost",
                                   description="Import a RabbitMQ definitions file into a fresh broker and "
                                               "draw one vhost's topology.")
    topology.add_argument("definitions", metavar="DEFINITIONS", help="a RabbitMQ definitions JSON file")
    topology.add_argument("--vhost", default="/", help="the virtual host (default: /)")
    topology.add_argument("--format", choices=("text", "svg", "mermaid", "dot"), default="text",
                          help="text (default), svg, mermaid or dot")
    topology.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    topology.set_defaults(run=_topology)

    move = commands.add_parser("move", help="redrive: move ready messages from a queue to an exchange",
                               description="Open a broker on an SQLite store file and move the ready messages "
                                           "of queue SOURCE (a dead-letter queue, say) to exchange EXCHANGE, "
                                           "keeping their x-death history; messages no queue takes stay. "
                                           "Exit code 3 when some stayed.")
    move.add_argument("--store", required=True, metavar="FILE", help="the SQLite store file (minimq.persistence)")
    move.add_argument("source", metavar="SOURCE", help="the queue to take ready messages from")
    move.add_argument("exchange", metavar="EXCHANGE", help="the exchange to publish them to ('' is the default)")
    move.add_argument("--routing-key", metavar="KEY",
                      help="publish with KEY (default: each message's original routing key; for a "
                           "dead-lettered message the keys of its first death)")
    move.add_argument("--limit", type=int, metavar="N", help="move at most N messages")
    move.add_argument("--vhost", default="/", help="the virtual host (default: /)")
    move.set_defaults(run=_move)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``minimq`` command with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args, sys.stdout)
    except CliError as error:
        print(f"minimq {args.command}: {error}", file=sys.stderr)
        return error.code
    except NotAllowed as error:  # an unknown vhost the checks above did not catch
        print(f"minimq {args.command}: {error}", file=sys.stderr)
        return 1

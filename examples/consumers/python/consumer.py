#!/usr/bin/env python3
"""A platform-side consumer of Omnibus's canonical events.

Declares its own durable queue, binds it to the hub's canonical exchange with event-type patterns
(AMQP topic syntax, default ``retail.order.#``), and prints each event's CloudEvents attributes and
data. Binary content mode (the hub's default) carries the attributes as ``cloudEvents_*`` AMQP
headers and the data as the body; structured mode carries the whole event as
``application/cloudevents+json``. Both are read. A message is acknowledged only after it has been
processed (printed), so an event is never lost when the consumer stops half-way: the broker
delivers it again, and the event's ``id`` tells a repeat apart.
"""

import argparse
import json
import os
import sys

import pika
import pika.exceptions

HEADER_PREFIX = "cloudEvents_"
STRUCTURED = "application/cloudevents+json"
# The order attributes are printed in; any other attribute follows them.
ORDER = ["specversion", "type", "id", "source", "subject", "time", "dataschema",
         "datacontenttype", "partitionkey", "omnibusorigin"]


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("patterns", nargs="*", default=["retail.order.#"],
                        help="event-type patterns to bind, e.g. 'retail.order.#' 'retail.sale.#' "
                             "(default: retail.order.#)")
    parser.add_argument("--url", default=os.environ.get(
        "OMNIBUS_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f"),
                        help="the broker the hub publishes to (default: $OMNIBUS_AMQP_URL or the "
                             "local RabbitMQ)")
    parser.add_argument("--exchange", default="omnibus.events",
                        help="the hub's canonical exchange ([broker] exchange; default "
                             "omnibus.events)")
    parser.add_argument("--queue", default="platform.retail-orders",
                        help="this consumer's own durable queue (default platform.retail-orders)")
    parser.add_argument("--prefetch", type=int, default=32,
                        help="unacknowledged events in flight at most (default 32)")
    parser.add_argument("--limit", type=int, default=None,
                        help="exit after this many events (default: run until Ctrl-C)")
    return parser.parse_args(argv)


def header_text(value):
    """An AMQP header value as text (pika gives long strings as bytes or str)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def read_event(properties, body):
    """The event's CloudEvents attributes and its data, in either content mode."""
    if properties.content_type == STRUCTURED:
        event = json.loads(body)
        data = event.pop("data", None)
        return event, data
    attributes = {
        name[len(HEADER_PREFIX):]: header_text(value)
        for name, value in (properties.headers or {}).items()
        if name.startswith(HEADER_PREFIX)
    }
    if properties.content_type:
        attributes["datacontenttype"] = properties.content_type
    return attributes, json.loads(body)


def show(routing_key, attributes, data):
    """Prints one event: its attributes, one per line, then its data as JSON."""
    names = [n for n in ORDER if n in attributes]
    names += sorted(n for n in attributes if n not in ORDER)
    lines = [f"event {routing_key}"]
    lines += [f"  {name}: {attributes[name]}" for name in names]
    lines.append("  data: " + json.dumps(data, ensure_ascii=False, sort_keys=True))
    print("\n".join(lines), flush=True)


def handle(event):
    """Where the platform does its work with one event (store it, update a projection…)."""
    show(*event)


def consume(args):
    connection = pika.BlockingConnection(pika.URLParameters(args.url))
    channel = connection.channel()
    channel.queue_declare(queue=args.queue, durable=True)
    for pattern in args.patterns:
        channel.queue_bind(queue=args.queue, exchange=args.exchange, routing_key=pattern)
    channel.basic_qos(prefetch_count=args.prefetch)
    print(f"consuming {args.queue} bound to {args.exchange} with {' '.join(args.patterns)}",
          file=sys.stderr, flush=True)
    done = 0
    for method, properties, body in channel.consume(args.queue):
        try:
            event = (method.routing_key, *read_event(properties, body))
        except (ValueError, UnicodeDecodeError) as error:
            print(f"not a CloudEvent ({error}); rejected (to the queue's dead-letter exchange, "
                  "if it has one)", file=sys.stderr, flush=True)
            channel.basic_reject(method.delivery_tag, requeue=False)
            continue
        handle(event)
        channel.basic_ack(method.delivery_tag)
        done += 1
        if args.limit is not None and done >= args.limit:
            break
    channel.cancel()
    connection.close()


def main(argv=None):
    args = parse_args(argv)
    try:
        consume(args)
    except KeyboardInterrupt:
        return 0
    except pika.exceptions.ChannelClosedByBroker as error:
        if error.reply_code == 404:
            print(f"exchange {args.exchange!r} not found: start the hub first (it declares its "
                  f"exchange), or pass --exchange ({error.reply_text})", file=sys.stderr)
        else:
            print(f"the broker refused: {error.reply_text}", file=sys.stderr)
        return 1
    except pika.exceptions.AMQPConnectionError as error:
        print(f"cannot connect to {args.url.split('@')[-1]}: {error!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

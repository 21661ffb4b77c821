#!/usr/bin/python3
"""An outsider's client against askonce's Kafka ACLs (internal/access).

Debian's python3-confluent-kafka (librdkafka), not askonce's Go client,
authenticates with SCRAM-SHA-512 as the principal it is given and tries, for
each "op:topic" argument, to produce one message (produce:<topic>) or to
read the topic in the consumer group given (read:<topic>). It prints one
JSON object per attempt: {"op", "topic", "ok": bool, "error": Kafka's error
name or null}. Exit status 0 once every attempt has an answer.
"""

import json
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition


def conf(broker, user, password):
    return {
        "bootstrap.servers": broker,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanisms": "SCRAM-SHA-512",
        "sasl.username": user,
        "sasl.password": password,
    }


def produce(c, topic):
    p = Producer({**c, "message.timeout.ms": 10000, "enable.idempotence": False})
    result = {}

    def report(err, _msg):
        result["error"] = err

    p.produce(topic, key=b"outsider", value=b"not a record", on_delivery=report)
    p.flush(15)
    err = result.get("error")
    if "error" not in result:
        return False, "NO_DELIVERY_REPORT"
    return err is None, (err.name() if err is not None else None)


def read(c, topic, group):
    """Reads the first message of any partition. (True, None) once a message
    arrives; (False, error name) when the broker refuses; (False,
    "NOTHING_READ") when nothing came within 20 s (the test writes a
    message to every topic it reads first)."""
    errors = []
    # The partition is assigned and read from offset 0 (nothing committed);
    # librdkafka still needs the group's coordinator, so Read on the group
    # is checked first, then on the topic.
    cons = Consumer({**c, "group.id": group, "enable.auto.commit": False,
                     "error_cb": lambda err: errors.append(err)})
    try:
        meta = cons.list_topics(topic, timeout=10).topics[topic]
        if meta.error is not None:
            return False, meta.error.name()
        cons.assign([TopicPartition(topic, p, 0) for p in meta.partitions])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            msg = cons.poll(0.5)
            if msg is not None and msg.error():
                errors.append(msg.error())
            elif msg is not None:
                return True, None
            for e in errors:
                if "AUTHORIZATION" in e.name():
                    return False, e.name()
        return False, (errors[0].name() if errors else "NOTHING_READ")
    except KafkaException as e:
        return False, e.args[0].name()
    finally:
        cons.close()


def main():
    broker, user, password, group = sys.argv[1:5]
    c = conf(broker, user, password)
    for arg in sys.argv[5:]:
        op, topic = arg.split(":", 1)
        ok, err = produce(c, topic) if op == "produce" else read(c, topic, group)
        print(json.dumps({"op": op, "topic": topic, "ok": ok, "error": err}), flush=True)


if __name__ == "__main__":
    main()

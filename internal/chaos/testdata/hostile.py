#!/usr/bin/python3
"""A hostile producer for `make chaos` (internal/chaos, TestChaos).

It writes, with a Kafka client independent of askonce's (Debian's
python3-confluent-kafka, that is librdkafka), messages to askonce's record
topics that no askonce connector would ever write: frames that are not the
Confluent wire format, an unknown schema id, and well-framed Avro records,
encoded here by hand from the schema askonce's registry serves, whose
content is hostile (a NUL byte, invalid UTF-8, a 10,000-character string, a
provenance naming another agency or another agency's data center). Each
case has a Kafka key of its own, chaos-hostile-<case>, so that the test
finds it in askonce.dlq.v1; which reason code each must carry is the test's
business (hostile_test.go), not this script's.

Output, on stdout, one JSON object per case:
  {"case": ..., "key": ..., "topic": ..., "partition": N, "offset": N}
(or "error" instead of partition and offset when the broker did not take
it), then {"done": true, "delivered": N, "failed": N}. Progress and errors go
to stderr. Exit status 0 only when every case was delivered.

TestHostileProducer (hostile_test.go) runs it against an embedded broker and
registry and judges each message as the materializer would, to prove each
is hostile in exactly the one way its case says.

Only the Python standard library is used besides confluent_kafka.
"""

import argparse
import datetime
import json
import os
import struct
import sys
import time
import urllib.error
import urllib.request

CIVIL = "askonce.civil-status.v1"
EMPLOYMENT = "askonce.employment.v1"
CONTRIBUTION = "askonce.contribution.v1"
UNKNOWN_SCHEMA_ID = 999999
KEY_PREFIX = "chaos-hostile-"


def log(msg):
    print("hostile: " + msg, file=sys.stderr, flush=True)


# --- Avro binary encoding, driven by the schema's JSON -----------------------


class Encoder:
    """Encodes Python values with an Avro schema (the subset askonce uses:
    records, enums, unions, arrays, maps, primitives; logical types are
    their underlying type: a date is days since 1970-01-01, a timestamp-millis
    milliseconds). A string value may be bytes: they are written as they
    are, which is how invalid UTF-8 gets into an Avro string."""

    def __init__(self, schema_text):
        self.names = {}
        self.schema = json.loads(schema_text)
        self._register(self.schema, "")

    def _register(self, s, ns):
        if isinstance(s, list):
            for b in s:
                self._register(b, ns)
            return
        if not isinstance(s, dict):
            return
        t = s.get("type")
        if t in ("record", "enum", "fixed"):
            name = s["name"]
            ns = s.get("namespace", ns) if "." not in name else name.rsplit(".", 1)[0]
            full = name if "." in name else (ns + "." + name if ns else name)
            self.names[full] = s
            self.names.setdefault(full.rsplit(".", 1)[-1], s)
            if t == "record":
                for f in s["fields"]:
                    self._register(f["type"], ns)
        elif t == "array":
            self._register(s["items"], ns)
        elif t == "map":
            self._register(s["values"], ns)

    def encode(self, value):
        out = bytearray()
        self._write(out, self.schema, value)
        return bytes(out)

    @staticmethod
    def _long(out, n):
        n = (n << 1) ^ (n >> 63)  # zigzag
        while n & ~0x7F:
            out.append((n & 0x7F) | 0x80)
            n >>= 7
        out.append(n)

    def _resolve(self, s):
        if isinstance(s, str) and s in self.names:
            return self.names[s]
        return s

    def _write(self, out, s, v):
        s = self._resolve(s)
        if isinstance(s, list):
            i = self._branch(s, v)
            self._long(out, i)
            self._write(out, s[i], v)
            return
        t = s if isinstance(s, str) else s["type"]
        if isinstance(t, (dict, list)):  # {"type": {...}}
            self._write(out, t, v)
            return
        if t == "null":
            return
        if t == "boolean":
            out.append(1 if v else 0)
        elif t in ("int", "long"):
            self._long(out, int(v))
        elif t == "float":
            out += struct.pack("<f", v)
        elif t == "double":
            out += struct.pack("<d", v)
        elif t in ("string", "bytes"):
            b = v.encode("utf-8") if isinstance(v, str) else bytes(v)
            self._long(out, len(b))
            out += b
        elif t == "fixed":
            out += bytes(v)
        elif t == "enum":
            self._long(out, s["symbols"].index(v))
        elif t == "array":
            if v:
                self._long(out, len(v))
                for item in v:
                    self._write(out, s["items"], item)
            self._long(out, 0)
        elif t == "map":
            if v:
                self._long(out, len(v))
                for k, item in v.items():
                    self._write(out, "string", k)
                    self._write(out, s["values"], item)
            self._long(out, 0)
        elif t == "record":
            for f in s["fields"]:
                if f["name"] in v:
                    self._write(out, f["type"], v[f["name"]])
                elif "default" in f:
                    ft = self._resolve(f["type"])
                    # A union's default is of its first branch.
                    if isinstance(ft, list):
                        self._long(out, 0)
                        self._write(out, ft[0], f["default"])
                    else:
                        self._write(out, ft, f["default"])
                else:
                    raise ValueError("record %s: no value for field %s" % (s["name"], f["name"]))
        else:
            raise ValueError("unsupported Avro type %r" % (t,))

    def _branch(self, union, v):
        for i, b in enumerate(union):
            b = self._resolve(b)
            t = b if isinstance(b, str) else b.get("type")
            if v is None and t == "null":
                return i
            if v is None:
                continue
            if t in ("string", "bytes") and isinstance(v, (str, bytes)):
                return i
            if t in ("int", "long") and isinstance(v, int) and not isinstance(v, bool):
                return i
            if t == "boolean" and isinstance(v, bool):
                return i
            if t == "record" and isinstance(v, dict):
                return i
            if t == "enum" and isinstance(v, str):
                return i
            if t == "array" and isinstance(v, list):
                return i
        raise ValueError("no union branch for %r in %r" % (v, union))


def frame(schema_id, body=b""):
    """The Confluent wire format: magic byte 0, schema id (4 bytes, big-endian), body."""
    return b"\x00" + struct.pack(">I", schema_id) + body


# --- The cases -----------------------------------------------------------------

# A synthetic person (commune block 99CC, which `--synthetic` accepts): a
# NIN of 18 digits whose positions 6-9 are the synthetic commune 9901.
NIN = "109859901999990000"


def days(y, m, d):
    return (datetime.date(y, m, d) - datetime.date(1970, 1, 1)).days


def provenance(case, agency, dc):
    return {
        "agency": agency,
        "data_center": dc,
        "source_key": KEY_PREFIX + case,
        "source_version": 1,
        "event_time": int(time.time() * 1000) - 60_000,
        "operation": "UPSERT",
    }


def person_record(case, agency="etatcivil", dc="etatcivil-dc01", **person):
    """A civil-status PERSON record, valid in every respect but what the
    case changes."""
    p = {
        "surname_latin": "Hostile",
        "surname_arabic": "\u0645\u0639\u0627\u062f\u064a",
        "first_names_latin": "Chaos",
        "first_names_arabic": "\u0641\u0648\u0636\u0649",
        "marital_surname_latin": None,
        "sex": "M",
        "birth_date": days(1980, 5, 17),
        "birth_date_presumed": False,
        "birth_commune": "9901",
        "birth_wilaya": "99",
    }
    p.update(person)
    return {"provenance": provenance(case, agency, dc), "nin": NIN, "kind": "PERSON", "person": p}


def contribution_record(case, agency, dc, fund):
    return {
        "provenance": provenance(case, agency, dc),
        "subject": "INSURED",
        "nin": NIN,
        "nss": None,
        "employer_id": None,
        "fund": fund,
        "period": "2024-01",
        "wage_base": 4_000_000,
        "amount_due": 1_040_000,
        "amount_paid": 1_040_000,
        "status": "PAID",
        "due_date": None,
        "paid_date": None,
    }


def cases(schemas):
    """(case, topic, value) of every hostile message. schemas maps a topic
    to (schema id, Encoder)."""
    cid, cenc = schemas[CIVIL]
    kid, kenc = schemas[CONTRIBUTION]
    valid_body = cenc.encode(person_record("unknown-schema"))
    return [
        # Frames that are not the wire format, or carry no record.
        ("bad-magic", CIVIL, b"\x01" + struct.pack(">I", cid) + valid_body),
        ("truncated", CIVIL, b"\x00\x00\x00"),
        ("empty", CIVIL, b""),
        ("header-only", CIVIL, frame(cid)),
        # A string length of 2^62 after a valid header: garbage Avro.
        ("garbage-body", CIVIL, frame(cid, b"\xfe\xff\xff\xff\xff\xff\xff\xff\x7f" + b"\xde\xad\xbe\xef" * 4)),
        ("employment-bad-magic", EMPLOYMENT, b"\x7b\x22\x6e\x69\x6e\x22\x3a\x31\x7d"),  # {"nin":1}: JSON, not Avro
        ("contribution-truncated", CONTRIBUTION, frame(kid)[:4]),
        # A schema id the registry never gave out.
        ("unknown-schema", CIVIL, frame(UNKNOWN_SCHEMA_ID, valid_body)),
        # Well framed, current schema, hostile text.
        ("nul-first-name", CIVIL, frame(cid, cenc.encode(person_record("nul-first-name", first_names_latin="Chaos\x00Ali")))),
        ("invalid-utf8-surname", CIVIL, frame(cid, cenc.encode(person_record("invalid-utf8-surname", surname_latin=b"Hos\xff\xfetile\xc3")))),
        ("oversize-first-name", CIVIL, frame(cid, cenc.encode(person_record("oversize-first-name", first_names_latin="A" * 10_000)))),
        # Well framed, valid content, provenance that is not the publisher's.
        ("civil-agency-cnas", CIVIL, frame(cid, cenc.encode(person_record("civil-agency-cnas", agency="cnas", dc="cnas-dc01")))),
        ("civil-dc-of-cnas", CIVIL, frame(cid, cenc.encode(person_record("civil-dc-of-cnas", agency="etatcivil", dc="cnas-dc01")))),
        ("contribution-agency-etatcivil", CONTRIBUTION,
         frame(kid, kenc.encode(contribution_record("contribution-agency-etatcivil", "etatcivil", "etatcivil-dc01", "CNAS")))),
        ("contribution-dc-of-casnos", CONTRIBUTION,
         frame(kid, kenc.encode(contribution_record("contribution-dc-of-casnos", "cnas", "casnos-dc02", "CNAS")))),
    ]


# --- Registry and Kafka ----------------------------------------------------------


def latest_schema(registry, topic, wait):
    """(id, schema text) of <topic>-value's latest version, asked over the
    registry's REST API, retried while the registry is down (chaos kills it)."""
    url = "%s/subjects/%s-value/versions/latest" % (registry.rstrip("/"), topic)
    deadline = time.time() + wait
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                body = json.load(r)
            return int(body["id"]), body["schema"]
        except (urllib.error.URLError, OSError, ValueError, KeyError) as e:
            if time.time() > deadline:
                raise RuntimeError("registry %s: %s" % (url, e))
            log("registry not ready (%s): retrying" % e)
            time.sleep(1)


def produce(brokers, msgs, timeout):
    from confluent_kafka import Producer  # Debian: python3-confluent-kafka

    conf = {
        "bootstrap.servers": brokers,
        "client.id": "askonce-chaos-hostile",
        "acks": "all",
        # The broker may be SIGKILLed meanwhile: librdkafka retries until then.
        "message.timeout.ms": int(timeout * 1000),
        "retry.backoff.ms": 500,
        "reconnect.backoff.max.ms": 2000,
    }
    # A broker that authorizes by ACLs: credentials from the environment
    # (never the arguments, which ps shows).
    if os.environ.get("HOSTILE_SASL_USERNAME"):
        conf.update({
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanisms": "SCRAM-SHA-512",
            "sasl.username": os.environ["HOSTILE_SASL_USERNAME"],
            "sasl.password": os.environ.get("HOSTILE_SASL_PASSWORD", ""),
        })
    p = Producer(conf)
    results = {}

    def report(err, msg):
        case = msg.key().decode()[len(KEY_PREFIX):]
        if err is not None:
            results[case] = {"error": str(err)}
        else:
            results[case] = {"partition": msg.partition(), "offset": msg.offset()}

    for case, topic, value in msgs:
        while True:
            try:
                p.produce(topic, key=(KEY_PREFIX + case).encode(), value=value, on_delivery=report)
                break
            except BufferError:
                p.poll(0.5)
    left = p.flush(timeout + 10)
    if left:
        log("%d messages still undelivered after %ss" % (left, timeout + 10))
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--brokers", required=True, help="bootstrap servers, host:port")
    ap.add_argument("--registry", required=True, help="askonce's registry, http://host:port")
    ap.add_argument("--timeout", type=float, default=120, help="seconds to wait for the registry and for delivery")
    a = ap.parse_args()

    schemas = {}
    for topic in (CIVIL, CONTRIBUTION):
        sid, text = latest_schema(a.registry, topic, a.timeout)
        log("%s-value: schema id %d" % (topic, sid))
        schemas[topic] = (sid, Encoder(text))
    msgs = cases(schemas)

    log("producing %d hostile messages to %s" % (len(msgs), a.brokers))
    results = produce(a.brokers, msgs, a.timeout)
    failed = 0
    for case, topic, _ in msgs:
        r = results.get(case, {"error": "no delivery report"})
        if "error" in r:
            failed += 1
            log("%s: not delivered: %s" % (case, r["error"]))
        print(json.dumps(dict({"case": case, "key": KEY_PREFIX + case, "topic": topic}, **r)), flush=True)
    print(json.dumps({"done": True, "delivered": len(msgs) - failed, "failed": failed}), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

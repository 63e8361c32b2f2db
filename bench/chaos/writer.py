#!/usr/bin/env python3
"""Chaos writer: sends online updates (upserts of new documents, deletes of documents it upserted
earlier) to a Shoal gateway one at a time, and records every acknowledged operation.

An operation is acknowledged when the gateway answers 200; until then it is retried (upserts and
deletes by id are idempotent, so a retry after an unknown outcome is safe). Each document carries
a unique term (chaosdoc<N>) so the verifier can find it by search.

usage: writer.py URL INDEX ACKED_LOG STOP_FILE [ops_per_second=4]
ACKED_LOG gets one JSON line per acknowledged operation: {"t": unix_ms, "op": "upsert"|"delete",
"id": ..., "term": ..., "attempts": n}. On exit it prints one JSON summary line.
"""
import json
import os
import random
import sys
import time
import urllib.error
import urllib.request

url, index, acked_path, stop_file = sys.argv[1:5]
rate = float(sys.argv[5]) if len(sys.argv) > 5 else 4.0
rng = random.Random(14)
endpoint = f"{url}/v1/indexes/{index}/documents"


def send(body):
    """One attempt: True when acknowledged (200), else the reason."""
    data = json.dumps(body).encode()
    req = urllib.request.Request(endpoint, data=data, headers={"content-type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=20) as res:
            res.read()
            return True if res.status == 200 else f"HTTP {res.status}"
    except urllib.error.HTTPError as e:
        return f"HTTP {e.code}: {e.read()[:200]!r}"
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
        return f"{type(e).__name__}: {e}"


live = []          # ids upserted and not deleted, in order
acked = 0
attempts_failed = 0
failures = {}
n = 0
with open(acked_path, "a", encoding="utf-8") as log:
    while not os.path.exists(stop_file):
        started = time.time()
        if live and rng.random() < 0.3:
            doc_id = live.pop(rng.randrange(len(live)))
            op, term = "delete", "chaosdoc" + doc_id.split("-")[1]
            body = {"deletes": [doc_id]}
        else:
            n += 1
            doc_id, term, op = f"chaos-{n}", f"chaosdoc{n}", "upsert"
            body = {"documents": [{"id": doc_id, "title": f"Chaos document {n}",
                                   "text": f"{term} written by the chaos writer while faults are injected"}]}
        attempts = 0
        while True:
            attempts += 1
            outcome = send(body)
            if outcome is True:
                break
            attempts_failed += 1
            reason = outcome.split(":")[0]
            failures[reason] = failures.get(reason, 0) + 1
            if os.path.exists(stop_file) and attempts >= 30:
                break  # give up only at the very end; the operation stays unacknowledged
            time.sleep(0.5)
        if outcome is not True:
            break
        acked += 1
        if op == "upsert":
            live.append(doc_id)
        log.write(json.dumps({"t": round(time.time() * 1000, 1), "op": op, "id": doc_id, "term": term, "attempts": attempts}) + "\n")
        log.flush()
        time.sleep(max(0.0, 1.0 / rate - (time.time() - started)))

print(json.dumps({"acknowledged": acked, "failed_attempts": attempts_failed, "failure_reasons": failures}))

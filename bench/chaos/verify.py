#!/usr/bin/env python3
"""Checks every acknowledged update of the chaos writer against the cluster after the run:
the last acknowledged operation on each id decides whether it must be found (upsert) or must be
gone (delete). A document is looked up by its unique term through a real search.

usage: verify.py URL INDEX ACKED_LOG  -> one JSON line {"acknowledged_updates", "lost_updates", ...}
"""
import json
import sys
import urllib.request

url, index, acked_path = sys.argv[1:4]
final = {}
count = 0
with open(acked_path, encoding="utf-8") as f:
    for line in f:
        op = json.loads(line)
        final[op["id"]] = op
        count += 1


def search(term):
    body = json.dumps({"text": term, "k": 10, "includeStored": False}).encode()
    req = urllib.request.Request(f"{url}/v1/indexes/{index}/search", data=body, headers={"content-type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=30) as res:
        return json.load(res)


lost = []
partial = 0
for doc_id, op in final.items():
    res = search(op["term"])
    if res["coverage"]["partial"]:
        partial += 1
    found = any(h["id"] == doc_id for h in res["hits"])
    if (op["op"] == "upsert") != found:
        lost.append({"id": doc_id, "expected": "present" if op["op"] == "upsert" else "absent", "t": op["t"]})

print(json.dumps({"acknowledged_updates": count, "ids_checked": len(final),
                  "expected_present": sum(1 for o in final.values() if o["op"] == "upsert"),
                  "expected_absent": sum(1 for o in final.values() if o["op"] == "delete"),
                  "lost_updates": len(lost), "lost": lost[:20], "partial_verification_searches": partial}))

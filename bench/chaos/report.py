#!/usr/bin/env python3
"""Attributes the queries of a `shoal loadtest --timeline` file to the phases of a chaos run and
prints a table per phase: queries sent, failed, partial (flagged) and complete, p99, and the time
to full coverage after the phase's fault (from the fault to the last query, scheduled in that
phase, that was not complete; 0 when none).

usage: report.py TIMELINE PHASES  (PHASES: JSON lines {"phase": name, "t": unix_ms of its fault or start})
Prints the table, then one JSON line with the totals (read by bench/chaos.sh).
"""
import json
import math
import sys

timeline_path, phases_path = sys.argv[1:3]
phases = [json.loads(l) for l in open(phases_path, encoding="utf-8") if l.strip()]
queries = sorted((json.loads(l) for l in open(timeline_path, encoding="utf-8") if l.strip()), key=lambda q: q["t"])


def p99(values):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[max(0, math.ceil(0.99 * len(s)) - 1)]


rows = []
for i, ph in enumerate(phases):
    start = ph["t"]
    end = phases[i + 1]["t"] if i + 1 < len(phases) else float("inf")
    qs = [q for q in queries if start <= q["t"] < end]
    failed = [q for q in qs if q["status"] == "error"]
    partial = [q for q in qs if q["status"] == "partial"]
    bad = [q for q in qs if q["status"] != "ok"]
    recovery = max(0.0, (bad[-1]["t"] + bad[-1]["ms"] - start) / 1000) if bad else 0.0
    errors = {}
    for q in failed:
        key = q.get("error", "")[:120]
        errors[key] = errors.get(key, 0) + 1
    rows.append({"phase": ph["phase"], "queries": len(qs), "failed": len(failed), "partial": len(partial),
                 "complete": len(qs) - len(bad), "p99_ms": round(p99([q["ms"] for q in qs]), 1),
                 "recovery_s": round(recovery, 1), "errors": errors})

print("| phase | queries | failed | partial (flagged) | complete | p99 ms | full coverage after s |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r['phase']} | {r['queries']} | {r['failed']} | {r['partial']} | {r['complete']} | {r['p99_ms']} | {r['recovery_s']} |")
for r in rows:
    for e, n in r["errors"].items():
        print(f"  {r['phase']}: {n} x {e}")
print(json.dumps({
    "queries": sum(r["queries"] for r in rows),
    "failed_unflagged": sum(r["failed"] for r in rows),
    "partial": sum(r["partial"] for r in rows),
    "complete": sum(r["complete"] for r in rows),
    "p99_ms": round(p99([q["ms"] for q in queries]), 1),
    "max_recovery_s": max((r["recovery_s"] for r in rows), default=0.0),
    "phases": {r["phase"]: {k: r[k] for k in ("queries", "failed", "partial", "complete", "p99_ms", "recovery_s")} for r in rows},
}))

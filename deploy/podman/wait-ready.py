#!/usr/bin/env python3
"""Waits for the pods of a kube-to-podman plan to pass their declared probes, as a kubelet would:
the startup probe until it succeeds (at most initialDelay + period x failureThreshold seconds),
then the readiness probe, then one liveness check. httpGet probes succeed on a 2xx/3xx answer,
tcpSocket probes on an accepted connection. Fails at once when a container has exited.
  wait-ready.py PLAN.json POD [POD...]      exit 0 when all are ready, 1 otherwise
"""
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request


def probe_once(probe):
    try:
        if probe["type"] == "tcp":
            with socket.create_connection(("127.0.0.1", probe["port"]), timeout=probe["timeout"]):
                return True, "connected"
        url = f"http://127.0.0.1:{probe['port']}{probe['path']}"
        with urllib.request.urlopen(url, timeout=max(probe["timeout"], 1)) as r:
            return 200 <= r.status < 400, f"{r.status} {r.read(200).decode(errors='replace')}"
    except urllib.error.HTTPError as e:
        return False, f"{e.code} {e.read(200).decode(errors='replace')}"
    except OSError as e:
        return False, str(e)


def running(container, podman):
    out = subprocess.run(podman + ["inspect", "--format", "{{.State.Status}}", container],
                         capture_output=True, text=True, check=False)
    return out.stdout.strip() in ("running", "created", "configured", "initialized")


def wait(probe, container, podman, name, kind):
    # A failing startup probe makes the kubelet restart the container: bounded by its threshold.
    # A failing readiness probe only keeps the pod out of its Services: wait up to 5 minutes.
    budget = probe["period"] * probe["failureThreshold"] if kind == "startupProbe" else 300
    deadline = time.monotonic() + probe["initialDelay"] + budget
    time.sleep(probe["initialDelay"])
    last = ""
    while True:
        ok, last = probe_once(probe)
        if ok:
            print(f"  {name}: {kind} passed ({probe['type']} :{probe['port']}{probe.get('path', '')}: {last.strip()[:120]})")
            return True
        if not running(container, podman):
            print(f"  {name}: container {container} is not running; last {kind}: {last}", file=sys.stderr)
            return False
        if time.monotonic() > deadline:
            print(f"  {name}: {kind} did not pass within {budget} s; last: {last}", file=sys.stderr)
            return False
        time.sleep(min(probe["period"], 2))


def main():
    plan = {p["pod"]: p for p in json.load(open(sys.argv[1], encoding="utf-8"))}
    podman = ["podman", "--runtime", "runc"]
    for pod in sys.argv[2:]:
        for c in plan[pod]["containers"]:
            probes = c["probes"]
            if not probes:
                print(f"  {pod}/{c['name']}: no probes declared", file=sys.stderr)
                return 1
            first = probes.get("startupProbe") or probes.get("readinessProbe")
            if not wait(first, c["container"], podman, f"{pod}/{c['name']}", "startupProbe" if "startupProbe" in probes else "readinessProbe"):
                return 1
            later = ("readinessProbe", "livenessProbe") if "startupProbe" in probes else ("livenessProbe",)
            for kind in later:
                if kind in probes and not wait(dict(probes[kind], initialDelay=0), c["container"], podman, f"{pod}/{c['name']}", kind):
                    return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

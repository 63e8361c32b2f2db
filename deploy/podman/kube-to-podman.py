#!/usr/bin/env python3
"""Turns rendered Kubernetes manifests into Pods that `podman kube play` runs on one machine.

Podman (4.3 here) plays Pods and single-replica Deployments but has no Services, StatefulSets,
Jobs, Secrets-as-env, downward API or replicas. This keeps everything the containers see from
the manifests (image, command, args, env names and values, securityContext, resources, volume
mounts, probes) and replaces only what a cluster would provide:

  * each replica of a Deployment/StatefulSet becomes its own Pod (<name>-<i>, as a StatefulSet
    names them); a Job becomes a Pod with restartPolicy Never;
  * networking: hostNetwork with a distinct free host port for every declared containerPort of
    every replica. The port number is rewritten where the container is told it (args, env
    values), and "service:port" / "http://service" in any env value or arg becomes
    127.0.0.1:<host port of the Service's first ready backend>: that is Service routing without
    load balancing;
  * env valueFrom: secretKeyRef / configMapKeyRef are resolved from the rendered Secrets and
    ConfigMaps; fieldRef metadata.name / metadata.namespace / status.podIP become the pod name,
    the namespace and 127.0.0.1;
  * volumes: emptyDir and persistent volume claims (volumeClaimTemplates included) become
    host directories under --state-dir owned by the pod's user; a claim bound to a hostPath
    PersistentVolume, and hostPath volumes, use that path (mapped with --host-path-map);
  * probes are removed from the played pods (podman would turn them into health checks that
    need curl in the image and systemd timers) and written to the plan instead, with their host
    ports, so the caller polls exactly the declared probes.

Writes <out>/<pod>.yaml per pod and <out>/plan.json (pods in manifest order: kind, workload,
replica, containers, host ports, probes, exit expectations).
"""
import argparse
import base64
import json
import os
import re
import socket
import sys

import yaml

WORKLOADS = ("Deployment", "StatefulSet", "Job")
IGNORED = {
    # Cluster-level objects podman has no equivalent for; what they mean is stated in the README.
    "Namespace", "ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding",
    "NetworkPolicy", "PodDisruptionBudget", "Ingress", "PersistentVolume", "PersistentVolumeClaim",
    "Secret", "ConfigMap", "Service",
}


def free_port(taken):
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in taken:
            taken.add(port)
            return port


def labels_match(selector, labels):
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("manifests", nargs="+", help="rendered YAML files (kubectl kustomize output)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--host-path-map", action="append", default=[], metavar="SRC=DST")
    ap.add_argument("--image-map", action="append", default=[], metavar="IMAGE=LOCAL")
    a = ap.parse_args()

    docs = []
    for path in a.manifests:
        with open(path, encoding="utf-8") as f:
            docs.extend(d for d in yaml.safe_load_all(f) if d)
    host_map = dict(m.split("=", 1) for m in a.host_path_map)
    image_map = dict(m.split("=", 1) for m in a.image_map)

    secrets, configmaps, services, pvs, pvcs = {}, {}, [], {}, {}
    for d in docs:
        kind, name = d["kind"], d["metadata"]["name"]
        if kind == "Secret":
            values = {k: base64.b64decode(v).decode() for k, v in (d.get("data") or {}).items()}
            values.update(d.get("stringData") or {})
            secrets[name] = values
        elif kind == "ConfigMap":
            configmaps[name] = dict(d.get("data") or {})
        elif kind == "Service":
            services.append(d)
        elif kind == "PersistentVolume":
            pvs[name] = d
        elif kind == "PersistentVolumeClaim":
            pvcs[name] = d
        elif kind not in WORKLOADS and kind not in IGNORED:
            sys.exit(f"kube-to-podman: unsupported kind {kind} ({name})")

    taken = set()
    pods = []  # (workload doc, replica, pod name, template)
    for d in docs:
        if d["kind"] not in WORKLOADS:
            continue
        name = d["metadata"]["name"]
        replicas = 1 if d["kind"] == "Job" else int(d["spec"].get("replicas", 1))
        for i in range(replicas):
            pod = f"{name}-{i}" if d["kind"] != "Job" else name
            pods.append((d, i, pod))

    # Host ports: every containerPort of every replica.
    ports = {}  # (pod, container port number) -> host port
    named = {}  # (pod, port name) -> container port number
    for d, i, pod in pods:
        for c in d["spec"]["template"]["spec"]["containers"]:
            for p in c.get("ports") or []:
                ports[(pod, p["containerPort"])] = free_port(taken)
                if "name" in p:
                    named[(pod, p["name"])] = p["containerPort"]

    def resolve_port(pod, port):
        number = named.get((pod, port), port) if isinstance(port, str) else port
        return ports[(pod, number)]

    # Service name -> {service port: host port of the first backend}.
    routes = []
    for s in services:
        if s["spec"].get("clusterIP") == "None":
            continue
        backends = [(d, i, pod) for d, i, pod in pods
                    if labels_match(s["spec"].get("selector"), d["spec"]["template"]["metadata"].get("labels", {}))]
        if not backends:
            continue
        d, i, pod = backends[0]
        ns = s["metadata"].get("namespace", "default")
        for p in s["spec"]["ports"]:
            host = resolve_port(pod, p.get("targetPort", p["port"]))
            names = rf"{re.escape(s['metadata']['name'])}(?:\.{re.escape(ns)}(?:\.svc(?:\.cluster\.local)?)?)?"
            routes.append((re.compile(rf"(?<![\w.-]){names}:{p['port']}(?![0-9])"), f"127.0.0.1:{host}"))
            if p["port"] == 80:
                routes.append((re.compile(rf"(https?://){names}(?![\w.:-])"), rf"\g<1>127.0.0.1:{host}"))

    def rewrite(value, pod, container):
        if value is None:
            return value
        for p in container.get("ports") or []:
            value = re.sub(rf"(?<![0-9]){p['containerPort']}(?![0-9])", str(ports[(pod, p['containerPort'])]), value)
        for pattern, replacement in routes:
            value = pattern.sub(replacement, value)
        return value

    os.makedirs(a.out, exist_ok=True)
    plan = []
    for d, i, pod in pods:
        ns = d["metadata"].get("namespace", "default")
        spec = d["spec"]["template"]["spec"]
        psc = spec.get("securityContext") or {}
        uid, gid = psc.get("runAsUser", 0), psc.get("runAsGroup", psc.get("runAsUser", 0))
        volumes = []

        def state_dir(label):
            path = os.path.join(a.state_dir, pod, label)
            os.makedirs(path, exist_ok=True)
            os.chown(path, uid, gid)
            os.chmod(path, 0o770)
            return path

        for v in spec.get("volumes") or []:
            if "emptyDir" in v:
                path = state_dir(v["name"])
            elif "hostPath" in v:
                path = host_map.get(v["hostPath"]["path"], v["hostPath"]["path"])
            elif "persistentVolumeClaim" in v:
                claim = pvcs.get(v["persistentVolumeClaim"]["claimName"])
                pv = pvs.get((claim or {}).get("spec", {}).get("volumeName", ""))
                if pv and "hostPath" in pv["spec"]:
                    path = host_map.get(pv["spec"]["hostPath"]["path"], pv["spec"]["hostPath"]["path"])
                else:
                    path = state_dir(v["name"])
            else:
                sys.exit(f"kube-to-podman: volume {v['name']} of {pod}: unsupported type")
            volumes.append({"name": v["name"], "hostPath": {"path": path, "type": "Directory"}})
        for t in d["spec"].get("volumeClaimTemplates") or []:
            volumes.append({"name": t["metadata"]["name"], "hostPath": {"path": state_dir(t["metadata"]["name"]), "type": "Directory"}})

        containers, described = [], []
        for c in spec["containers"]:
            c = json.loads(json.dumps(c))
            env = []
            for e in c.get("env") or []:
                if "value" in e:
                    value = e["value"]
                elif "secretKeyRef" in e.get("valueFrom", {}):
                    ref = e["valueFrom"]["secretKeyRef"]
                    value = secrets[ref["name"]][ref["key"]]
                elif "configMapKeyRef" in e.get("valueFrom", {}):
                    ref = e["valueFrom"]["configMapKeyRef"]
                    value = configmaps[ref["name"]][ref["key"]]
                elif "fieldRef" in e.get("valueFrom", {}):
                    value = {"metadata.name": pod, "metadata.namespace": ns, "status.podIP": "127.0.0.1"}[e["valueFrom"]["fieldRef"]["fieldPath"]]
                else:
                    sys.exit(f"kube-to-podman: env {e['name']} of {pod}: unsupported source")
                env.append({"name": e["name"], "value": rewrite(str(value), pod, c)})
            c["env"] = env
            if "args" in c:
                c["args"] = [rewrite(str(x), pod, c) for x in c["args"]]
            if "command" in c:
                c["command"] = [rewrite(str(x), pod, c) for x in c["command"]]
            if c.get("image") in image_map:
                c["image"] = image_map[c["image"]]
            probes = {}
            for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
                probe = c.pop(kind, None)
                if not probe:
                    continue
                timing = {"period": probe.get("periodSeconds", 10), "failureThreshold": probe.get("failureThreshold", 3),
                          "initialDelay": probe.get("initialDelaySeconds", 0), "timeout": probe.get("timeoutSeconds", 1)}
                if "httpGet" in probe:
                    probes[kind] = {"type": "http", "port": resolve_port(pod, probe["httpGet"]["port"]), "path": probe["httpGet"].get("path", "/"), **timing}
                elif "tcpSocket" in probe:
                    probes[kind] = {"type": "tcp", "port": resolve_port(pod, probe["tcpSocket"]["port"]), **timing}
                else:
                    sys.exit(f"kube-to-podman: {kind} of {pod}/{c['name']}: only httpGet and tcpSocket probes are supported")
            c.pop("ports", None)  # host network: the ports are the rewritten ones
            c.pop("imagePullPolicy", None)
            containers.append(c)
            described.append({"name": c["name"], "container": f"{pod}-{c['name']}", "probes": probes,
                              "ports": {str(p["containerPort"]): ports[(pod, p["containerPort"])] for p in (d["spec"]["template"]["spec"]["containers"][len(described)].get("ports") or [])}})

        out_pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": pod, "labels": d["spec"]["template"]["metadata"].get("labels", {})},
            "spec": {
                "hostNetwork": True,
                "restartPolicy": "Never" if d["kind"] == "Job" else "Always",
                "securityContext": psc,
                "containers": containers,
                "volumes": volumes,
            },
        }
        if "terminationGracePeriodSeconds" in spec:
            out_pod["spec"]["terminationGracePeriodSeconds"] = spec["terminationGracePeriodSeconds"]
        path = os.path.join(a.out, f"{pod}.yaml")
        with open(path, "w", encoding="utf-8") as f:
            yaml.safe_dump(out_pod, f, sort_keys=False)
        plan.append({"pod": pod, "kind": d["kind"], "workload": d["metadata"]["name"], "replica": i,
                     "file": path, "containers": described})
    with open(os.path.join(a.out, "plan.json"), "w", encoding="utf-8") as f:
        json.dump(plan, f, indent=1)


if __name__ == "__main__":
    main()

"""``describe pod`` and the pod-template section that workload describers share.

Lines and wording follow kubectl 1.32's ``describePod``, ``describeContainers``,
``describeVolumes`` and ``DescribePodTemplate``: a Deployment's ``Pod
Template:`` block is the same container and volume report as a pod's, indented
one level and without runtime state.
"""

from __future__ import annotations

from typing import Any

from cli.context import Context
from cli.describe import (Describer, Writer, annotations_multiline, controlled_by,
                          describe_events, labels_multiline, rfc1123z, search_events, since)

__all__ = ["DESCRIBERS", "describe_pod", "pod_template", "qos_class", "probe_text"]


def qos_class(pod: dict[str, Any]) -> str:
    """Kubernetes' QoS rule: requests equal limits for cpu and memory everywhere -> Guaranteed."""
    if (pod.get("status") or {}).get("qosClass"):
        return str(pod["status"]["qosClass"])
    spec = pod.get("spec") or {}
    containers = (spec.get("containers") or []) + (spec.get("initContainers") or [])
    any_set, guaranteed = False, True
    for container in containers:
        res = container.get("resources") or {}
        limits, requests = res.get("limits") or {}, res.get("requests") or {}
        if limits or requests:
            any_set = True
        for name in ("cpu", "memory"):
            if name not in limits or requests.get(name, limits[name]) != limits[name]:
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def probe_text(probe: dict[str, Any]) -> str:
    attrs = (f"delay={probe.get('initialDelaySeconds', 0)}s timeout={probe.get('timeoutSeconds', 1)}s "
             f"period={probe.get('periodSeconds', 10)}s #success={probe.get('successThreshold', 1)} "
             f"#failure={probe.get('failureThreshold', 3)}")
    if "exec" in probe:
        return f"exec [{' '.join((probe['exec'] or {}).get('command') or [])}] {attrs}"
    if "httpGet" in probe:
        get = probe["httpGet"] or {}
        scheme = str(get.get("scheme") or "HTTP").lower()
        host, port = str(get.get("host") or ""), str(get.get("port", ""))
        hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        return f"http-get {scheme}://{hostport}{get.get('path') or ''} {attrs}"
    if "tcpSocket" in probe:
        sock = probe["tcpSocket"] or {}
        return f"tcp-socket {sock.get('host') or ''}:{sock.get('port', '')} {attrs}"
    if "grpc" in probe:
        grpc = probe["grpc"] or {}
        return f"grpc <pod>:{grpc.get('port', '')} {grpc.get('service') or ''} {attrs}"
    return f"unknown {attrs}"


def _ports(ports: list[dict[str, Any]], field: str) -> str:
    out = []
    for port in ports:
        text = f"{port.get(field, 0)}/{port.get('protocol', 'TCP')}"
        out.append(f"{text} ({port['name']})" if port.get("name") else text)
    return ", ".join(out)


def _field_value(pod: dict[str, Any] | None, path: str) -> str:
    if pod is None:
        return ""
    value: Any = pod
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None or isinstance(value, (dict, list)) else str(value)


def _env(w: Writer, container: dict[str, Any], pod: dict[str, Any] | None) -> None:
    if container.get("envFrom"):
        w.write(2, "Environment Variables from:\n")
        for source in container["envFrom"]:
            ref, kind = (source.get("configMapRef"), "ConfigMap") if source.get("configMapRef") \
                else (source.get("secretRef") or {}, "Secret")
            optional = "true" if (ref or {}).get("optional") else "false"
            prefix = f" with prefix '{source['prefix']}'" if source.get("prefix") else ""
            w.write(3, f"{(ref or {}).get('name', '')}\t{kind}{prefix}\tOptional: {optional}\n")
    env = container.get("env") or []
    w.write(2, "Environment:" + ("" if env else "\t<none>") + "\n")
    resources = container.get("resources") or {}
    for var in env:
        name, source = var.get("name", ""), var.get("valueFrom")
        if not source:
            for i, part in enumerate(str(var.get("value", "")).split("\n")):
                w.write(3, f"{name}:\t{part}\n" if i == 0 else f"\t{part}\n")
        elif source.get("fieldRef"):
            ref = source["fieldRef"]
            w.write(3, f"{name}:\t{_field_value(pod, ref.get('fieldPath', ''))} "
                       f"({ref.get('apiVersion', 'v1')}:{ref.get('fieldPath', '')})\n")
        elif source.get("resourceFieldRef"):
            wanted = str(source["resourceFieldRef"].get("resource", ""))
            kind, _, res_name = wanted.partition(".")
            value = (resources.get(kind) or {}).get(res_name)
            shown = value or ("node allocatable" if kind == "limits" else "0")
            w.write(3, f"{name}:\t{shown} ({wanted})\n")
        elif source.get("secretKeyRef"):
            ref = source["secretKeyRef"]
            w.write(3, f"{name}:\t<set to the key '{ref.get('key', '')}' in secret "
                       f"'{ref.get('name', '')}'>\tOptional: {'true' if ref.get('optional') else 'false'}\n")
        elif source.get("configMapKeyRef"):
            ref = source["configMapKeyRef"]
            w.write(3, f"{name}:\t<set to the key '{ref.get('key', '')}' of config map "
                       f"'{ref.get('name', '')}'>\tOptional: {'true' if ref.get('optional') else 'false'}\n")


def _state(w: Writer, title: str, state: dict[str, Any]) -> None:
    if state.get("running") is not None:
        w.write(2, f"{title}:\tRunning\n")
        w.write(3, f"Started:\t{rfc1123z(state['running'].get('startedAt'))}\n")
    elif state.get("terminated") is not None:
        done = state["terminated"]
        w.write(2, f"{title}:\tTerminated\n")
        w.optional(3, "Reason", done.get("reason"))
        w.optional(3, "Message", done.get("message"))
        w.write(3, f"Exit Code:\t{done.get('exitCode', 0)}\n")
        w.optional(3, "Signal", done.get("signal"))
        w.write(3, f"Started:\t{rfc1123z(done.get('startedAt'))}\n")
        w.write(3, f"Finished:\t{rfc1123z(done.get('finishedAt'))}\n")
    else:
        w.write(2, f"{title}:\tWaiting\n")
        reason = (state.get("waiting") or {}).get("reason")
        if reason:
            w.write(3, f"Reason:\t{reason}\n")


def containers(w: Writer, label: str, specs: list[dict[str, Any]],
               statuses: list[dict[str, Any]] | None, pod: dict[str, Any] | None,
               space: str = "") -> None:
    by_name = {s.get("name"): s for s in statuses or []}
    w.write(0, f"{space}{label}:{'' if specs else ' <none>'}\n")
    for c in specs:
        status = by_name.get(c.get("name"))
        w.write(1, f"{' ' if space else ''}{c.get('name', '')}:\n")
        if status is not None:
            w.write(2, f"Container ID:\t{status.get('containerID', '')}\n")
        w.write(2, f"Image:\t{c.get('image', '')}\n")
        if status is not None:
            w.write(2, f"Image ID:\t{status.get('imageID', '')}\n")
        ports = c.get("ports") or []
        text = _ports(ports, "containerPort")
        w.write(2, f"Ports:\t{text}\n" if "," in text else f"Port:\t{text or '<none>'}\n")
        text = _ports(ports, "hostPort")
        w.write(2, f"Host Ports:\t{text}\n" if "," in text else f"Host Port:\t{text or '<none>'}\n")
        for title, field in (("Command", "command"), ("Args", "args")):
            if c.get(field):
                w.write(2, f"{title}:\n")
                for item in c[field]:
                    for part in str(item).split("\n"):
                        w.write(3, f"{part}\n")
        if status is not None:
            _state(w, "State", status.get("state") or {})
            if (status.get("lastState") or {}).get("terminated"):
                _state(w, "Last State", status["lastState"])
            w.write(2, f"Ready:\t{'True' if status.get('ready') else 'False'}\n")
            w.write(2, f"Restart Count:\t{status.get('restartCount', 0)}\n")
        resources = c.get("resources") or {}
        for title in ("limits", "requests"):
            if resources.get(title):
                w.write(2, f"{title.capitalize()}:\n")
                for name in sorted(resources[title]):
                    w.write(3, f"{name}:\t{resources[title][name]}\n")
        for title, field in (("Liveness", "livenessProbe"), ("Readiness", "readinessProbe"),
                             ("Startup", "startupProbe")):
            if c.get(field):
                w.write(2, f"{title}:\t{probe_text(c[field])}\n")
        _env(w, c, pod)
        mounts = sorted(c.get("volumeMounts") or [], key=lambda m: str(m.get("mountPath", "")))
        w.write(2, "Mounts:" + ("" if mounts else "\t<none>") + "\n")
        for m in mounts:
            flags = ["ro" if m.get("readOnly") else "rw"]
            if m.get("subPath"):
                flags.append(f'path="{m["subPath"]}"')
            w.write(3, f"{m.get('mountPath', '')} from {m.get('name', '')} ({','.join(flags)})\n")


def _optional(ref: dict[str, Any]) -> str:
    return "true" if ref.get("optional") else "false"


def volumes(w: Writer, vols: list[dict[str, Any]], space: str = "") -> None:
    if not vols:
        w.write(0, f"{space}Volumes:\t<none>\n")
        return
    w.write(0, f"{space}Volumes:\n")
    for vol in vols:
        w.write(1, f"{' ' if space else ''}{vol.get('name', '')}:\n")
        if "hostPath" in vol:
            src = vol["hostPath"] or {}
            w.write(2, "Type:\tHostPath (bare host directory volume)\n"
                       f"    Path:\t{src.get('path', '')}\n    HostPathType:\t{src.get('type') or '<none>'}\n")
        elif "emptyDir" in vol:
            src = vol["emptyDir"] or {}
            w.write(2, "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n"
                       f"    Medium:\t{src.get('medium', '')}\n    SizeLimit:\t{src.get('sizeLimit') or '<unset>'}\n")
        elif "secret" in vol:
            src = vol["secret"] or {}
            w.write(2, "Type:\tSecret (a volume populated by a Secret)\n"
                       f"    SecretName:\t{src.get('secretName', '')}\n    Optional:\t{_optional(src)}\n")
        elif "configMap" in vol:
            src = vol["configMap"] or {}
            w.write(2, "Type:\tConfigMap (a volume populated by a ConfigMap)\n"
                       f"    Name:\t{src.get('name', '')}\n    Optional:\t{_optional(src)}\n")
        elif "persistentVolumeClaim" in vol:
            src = vol["persistentVolumeClaim"] or {}
            w.write(2, "Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same "
                       f"namespace)\n    ClaimName:\t{src.get('claimName', '')}\n"
                       f"    ReadOnly:\t{'true' if src.get('readOnly') else 'false'}\n")
        elif "downwardAPI" in vol:
            w.write(2, "Type:\tDownwardAPI (a volume populated by information about the pod)\n    Items:\n")
            for item in (vol["downwardAPI"] or {}).get("items") or []:
                ref = item.get("fieldRef") or item.get("resourceFieldRef") or {}
                w.write(3, f"{ref.get('fieldPath') or ref.get('resource', '')} -> {item.get('path', '')}\n")
        elif "projected" in vol:
            _projected(w, vol["projected"] or {})
        else:
            w.write(1, "<unknown>\n")


def _projected(w: Writer, projected: dict[str, Any]) -> None:
    w.write(2, "Type:\tProjected (a volume that contains injected data from multiple sources)\n")
    for source in projected.get("sources") or []:
        if source.get("secret") is not None:
            w.write(2, f"SecretName:\t{source['secret'].get('name', '')}\n"
                       f"    Optional:\t{_optional(source['secret'])}\n")
        elif source.get("downwardAPI") is not None:
            w.write(2, "DownwardAPI:\ttrue\n")
        elif source.get("configMap") is not None:
            w.write(2, f"ConfigMapName:\t{source['configMap'].get('name', '')}\n"
                       f"    Optional:\t{_optional(source['configMap'])}\n")
        elif source.get("serviceAccountToken") is not None:
            w.write(2, "TokenExpirationSeconds:\t"
                       f"{source['serviceAccountToken'].get('expirationSeconds', 3607)}\n")


def tolerations(w: Writer, title: str, items: list[dict[str, Any]] | None, indent: str = "") -> None:
    w.write(0, f"{indent}{title}:\t")
    if not items:
        w.line("<none>")
        return
    for i, tol in enumerate(sorted(items, key=lambda t: str(t.get("key", "")))):
        if i:
            w.write(0, indent + "\t")
        text = str(tol.get("key", ""))
        if tol.get("value"):
            text += f"={tol['value']}"
        if tol.get("effect"):
            text += f":{tol['effect']}"
        if tol.get("operator") == "Exists" and not tol.get("value"):
            text += " op=Exists" if tol.get("key") or tol.get("effect") else "op=Exists"
        if tol.get("tolerationSeconds") is not None:
            text += f" for {tol['tolerationSeconds']}s"
        w.write(0, text + "\n")


def pod_template(w: Writer, template: dict[str, Any]) -> None:
    meta, spec = template.get("metadata") or {}, template.get("spec") or {}
    w.write(0, "Pod Template:\n")
    labels_multiline(w, "  Labels", meta.get("labels"))
    if meta.get("annotations"):
        annotations_multiline(w, "  Annotations", meta["annotations"])
    w.optional(1, "Service Account", spec.get("serviceAccountName"))
    if spec.get("initContainers"):
        containers(w, "Init Containers", spec["initContainers"], None, None, "  ")
    containers(w, "Containers", spec.get("containers") or [], None, None, "  ")
    volumes(w, spec.get("volumes") or [], "  ")
    w.optional(1, "Priority Class Name", spec.get("priorityClassName"))
    labels_multiline(w, "  Node-Selectors", spec.get("nodeSelector"))
    tolerations(w, "  Tolerations", spec.get("tolerations"))


async def describe_pod(ctx: Context, pod: dict[str, Any]) -> str:
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    w = Writer()
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    if spec.get("priority") is not None:
        w.write(0, f"Priority:\t{spec['priority']}\n")
    w.optional(0, "Priority Class Name", spec.get("priorityClassName"))
    w.optional(0, "Runtime Class Name", spec.get("runtimeClassName"))
    w.optional(0, "Service Account", spec.get("serviceAccountName"))
    node = spec.get("nodeName")
    w.write(0, f"Node:\t{node}/{status.get('hostIP', '')}\n" if node else "Node:\t<none>\n")
    if status.get("startTime"):
        w.write(0, f"Start Time:\t{rfc1123z(status['startTime'])}\n")
    labels_multiline(w, "Labels", meta.get("labels"))
    annotations_multiline(w, "Annotations", meta.get("annotations"))
    phase = status.get("phase", "")
    if meta.get("deletionTimestamp") and phase not in ("Failed", "Succeeded"):
        w.write(0, f"Status:\tTerminating (lasts {since(meta['deletionTimestamp'])})\n")
        w.write(0, f"Termination Grace Period:\t{meta.get('deletionGracePeriodSeconds', 0)}s\n")
    else:
        w.write(0, f"Status:\t{phase}\n")
    for title, field in (("Reason", "reason"), ("Message", "message")):
        if status.get(field):
            w.write(0, f"{title}:\t{status[field]}\n")
    w.write(0, f"IP:\t{status.get('podIP', '')}\n")
    ips = status.get("podIPs") or []
    if not ips:
        w.write(0, "IPs:\t<none>\n")
    else:
        w.write(0, "IPs:\n")
        for ip in ips:
            w.write(1, f"IP:\t{ip.get('ip', '')}\n")
    w.optional(0, "Controlled By", controlled_by(pod))
    w.optional(0, "NominatedNodeName", status.get("nominatedNodeName"))
    if spec.get("initContainers"):
        containers(w, "Init Containers", spec["initContainers"],
                   status.get("initContainerStatuses"), pod)
    containers(w, "Containers", spec.get("containers") or [], status.get("containerStatuses"), pod)
    if status.get("conditions"):
        w.write(0, "Conditions:\n  Type\tStatus\n")
        for cond in status["conditions"]:
            w.write(1, f"{cond.get('type', '')} \t{cond.get('status', '')} \n")
    volumes(w, spec.get("volumes") or [])
    w.write(0, f"QoS Class:\t{qos_class(pod)}\n")
    labels_multiline(w, "Node-Selectors", spec.get("nodeSelector"))
    tolerations(w, "Tolerations", spec.get("tolerations"))
    describe_events(w, await search_events(ctx, pod))
    return w.text()


DESCRIBERS: dict[tuple[str, str], Describer] = {("", "pods"): describe_pod}

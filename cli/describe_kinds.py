"""``describe`` for deployments, replica sets, services, nodes, namespaces, config maps, secrets.

Each follows the matching kubectl 1.32 describer line by line; what needs
other objects fetches them as kubectl does (a Deployment's ReplicaSets, a
ReplicaSet's pods, a Service's EndpointSlices, the pods on a Node).  Secret
values are never printed, only their sizes.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

from cli.context import Context
from cli.describe import (Describer, Writer, annotations_multiline, controlled_by,
                          describe_events, labels_multiline, rfc1123z, search_events)
from cli.describe_pod import pod_template

__all__ = ["DESCRIBERS", "format_selector"]


def format_selector(selector: dict[str, Any] | None) -> str:
    """metav1.FormatLabelSelector: ``a=b,c in (d,e)``; ``<none>`` when it selects nothing."""
    if not selector:
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        op, key = str(expr.get("operator", "")), expr.get("key", "")
        values = ",".join(expr.get("values") or [])
        parts.append({"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})",
                      "Exists": key, "DoesNotExist": f"!{key}"}.get(op, f"{key} {op} ({values})"))
    return ",".join(parts) or "<none>"


def _selector_query(selector: dict[str, Any] | None) -> str | None:
    text = format_selector(selector)
    return None if text == "<none>" else text


def _owned(items: list[dict[str, Any]], uid: str) -> list[dict[str, Any]]:
    return [o for o in items
            if any(r.get("controller") and r.get("uid") == uid
                   for r in (o.get("metadata") or {}).get("ownerReferences") or [])]


def _header(w: Writer, obj: dict[str, Any], *, namespace: bool = True) -> None:
    meta = obj.get("metadata") or {}
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    if namespace:
        w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")


def _metadata(w: Writer, obj: dict[str, Any], *, namespace: bool = True) -> None:
    """The opening most describers share: name, namespace, labels, annotations."""
    meta = obj.get("metadata") or {}
    _header(w, obj, namespace=namespace)
    labels_multiline(w, "Labels", meta.get("labels"))
    annotations_multiline(w, "Annotations", meta.get("annotations"))


def _conditions(w: Writer, conditions: list[dict[str, Any]] | None) -> None:
    if conditions:
        w.write(0, "Conditions:\n  Type\tStatus\tReason\n")
        w.write(1, "----\t------\t------\n")
        for c in conditions:
            w.write(1, f"{c.get('type', '')} \t{c.get('status', '')}\t{c.get('reason', '')}\n")


def _same_template(rs: dict[str, Any], deployment: dict[str, Any]) -> bool:
    template = copy.deepcopy((rs.get("spec") or {}).get("template") or {})
    (template.get("metadata") or {}).get("labels", {}).pop("pod-template-hash", None)
    return template == ((deployment.get("spec") or {}).get("template") or {})


def _rs_summary(sets: list[dict[str, Any]]) -> str:
    return ", ".join(f"{rs['metadata']['name']} ({(rs.get('status') or {}).get('replicas', 0)}/"
                     f"{(rs.get('spec') or {}).get('replicas', 0)} replicas created)"
                     for rs in sets) or "<none>"


async def describe_deployment(ctx: Context, d: dict[str, Any]) -> str:
    meta, spec, status = d.get("metadata") or {}, d.get("spec") or {}, d.get("status") or {}
    w = Writer()
    _header(w, d)
    w.write(0, f"CreationTimestamp:\t{rfc1123z(meta.get('creationTimestamp'))}\n")
    labels_multiline(w, "Labels", meta.get("labels"))
    annotations_multiline(w, "Annotations", meta.get("annotations"))
    w.write(0, f"Selector:\t{format_selector(spec.get('selector'))}\n")
    w.write(0, f"Replicas:\t{spec.get('replicas', 1)} desired | {status.get('updatedReplicas', 0)} "
               f"updated | {status.get('replicas', 0)} total | {status.get('availableReplicas', 0)} "
               f"available | {status.get('unavailableReplicas', 0)} unavailable\n")
    strategy = spec.get("strategy") or {}
    w.write(0, f"StrategyType:\t{strategy.get('type', '')}\n")
    w.write(0, f"MinReadySeconds:\t{spec.get('minReadySeconds', 0)}\n")
    if strategy.get("rollingUpdate"):
        ru = strategy["rollingUpdate"]
        w.write(0, f"RollingUpdateStrategy:\t{ru.get('maxUnavailable', '')} max unavailable, "
                   f"{ru.get('maxSurge', '')} max surge\n")
    pod_template(w, spec.get("template") or {})
    _conditions(w, status.get("conditions"))
    sets, _ = await ctx.client.list_all("replicasets", meta.get("namespace"),
                                        label_selector=_selector_query(spec.get("selector")))
    owned = _owned(sets, str(meta.get("uid", "")))
    new = [rs for rs in owned if _same_template(rs, d)][:1]
    old = [rs for rs in owned if rs not in new]
    if owned:
        w.write(0, f"OldReplicaSets:\t{_rs_summary(old)}\n")
        w.write(0, f"NewReplicaSet:\t{_rs_summary(new)}\n")
    describe_events(w, await search_events(ctx, d))
    return w.text()


async def describe_replicaset(ctx: Context, rs: dict[str, Any]) -> str:
    meta, spec, status = rs.get("metadata") or {}, rs.get("spec") or {}, rs.get("status") or {}
    pods, _ = await ctx.client.list_all("pods", meta.get("namespace"),
                                        label_selector=_selector_query(spec.get("selector")))
    phases = [(p.get("status") or {}).get("phase") for p in _owned(pods, str(meta.get("uid", "")))]
    w = Writer()
    _header(w, rs)
    w.write(0, f"Selector:\t{format_selector(spec.get('selector'))}\n")
    labels_multiline(w, "Labels", meta.get("labels"))
    annotations_multiline(w, "Annotations", meta.get("annotations"))
    w.optional(0, "Controlled By", controlled_by(rs))
    w.write(0, f"Replicas:\t{status.get('replicas', 0)} current / {spec.get('replicas', 1)} desired\n")
    w.write(0, f"Pods Status:\t{phases.count('Running')} Running / {phases.count('Pending')} Waiting / "
               f"{phases.count('Succeeded')} Succeeded / {phases.count('Failed')} Failed\n")
    pod_template(w, spec.get("template") or {})
    _conditions(w, status.get("conditions"))
    describe_events(w, await search_events(ctx, rs))
    return w.text()


def _endpoints(slices: list[dict[str, Any]], port_name: str) -> str:
    if not slices:
        return "<none>"
    shown: list[str] = []
    count = 0
    for s in slices:
        ports = s.get("ports") or []
        wanted = [p for p in ports if (p.get("name") or "") == port_name] if ports else [None]
        for port in wanted:
            for ep in s.get("endpoints") or []:
                if (ep.get("conditions") or {}).get("ready") is False or not ep.get("addresses"):
                    continue
                addr = ep["addresses"][0]
                if port is not None:
                    addr = f"[{addr}]:{port.get('port')}" if ":" in addr else f"{addr}:{port.get('port')}"
                if len(shown) < 3:
                    shown.append(addr)
                count += 1
    text = ",".join(shown)
    return f"{text} + {count - 3} more..." if count > 3 else text


async def describe_service(ctx: Context, svc: dict[str, Any]) -> str:
    meta, spec = svc.get("metadata") or {}, svc.get("spec") or {}
    slices, _ = await ctx.client.list_all(
        "endpointslices", meta.get("namespace"),
        label_selector=f"kubernetes.io/service-name={meta.get('name', '')}")
    w = Writer()
    _metadata(w, svc)
    selector = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items()))
    w.write(0, f"Selector:\t{selector}\n")
    w.write(0, f"Type:\t{spec.get('type', '')}\n")
    w.optional(0, "IP Family Policy", spec.get("ipFamilyPolicy"))
    w.write(0, f"IP Families:\t{','.join(spec.get('ipFamilies') or []) or '<none>'}\n")
    w.write(0, f"IP:\t{spec.get('clusterIP', '')}\n")
    w.write(0, f"IPs:\t{','.join(spec.get('clusterIPs') or []) or '<none>'}\n")
    w.optional(0, "External IPs", ",".join(spec.get("externalIPs") or []))
    w.optional(0, "Desired LoadBalancer IP", spec.get("loadBalancerIP"))
    w.optional(0, "External Name", spec.get("externalName"))
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    if ingress:
        w.write(0, "LoadBalancer Ingress:\t"
                   f"{', '.join(i.get('ip') or i.get('hostname', '') for i in ingress)}\n")
    for port in spec.get("ports") or []:
        name, proto = port.get("name") or "<unset>", port.get("protocol", "TCP")
        w.write(0, f"Port:\t{name}\t{port.get('port')}/{proto}\n")
        w.write(0, f"TargetPort:\t{port.get('targetPort', port.get('port'))}/{proto}\n")
        w.optional(0, "AppProtocol", port.get("appProtocol"))
        if port.get("nodePort"):
            w.write(0, f"NodePort:\t{name}\t{port['nodePort']}/{proto}\n")
        w.write(0, f"Endpoints:\t{_endpoints(slices, port.get('name') or '')}\n")
    w.write(0, f"Session Affinity:\t{spec.get('sessionAffinity', 'None')}\n")
    w.optional(0, "External Traffic Policy", spec.get("externalTrafficPolicy"))
    w.optional(0, "Internal Traffic Policy", spec.get("internalTrafficPolicy"))
    w.optional(0, "HealthCheck NodePort", spec.get("healthCheckNodePort"))
    describe_events(w, await search_events(ctx, svc))
    return w.text()


async def describe_namespace(ctx: Context, ns: dict[str, Any]) -> str:
    status = ns.get("status") or {}
    w = Writer()
    _metadata(w, ns, namespace=False)
    w.write(0, f"Status:\t{status.get('phase', '')}\n")
    if status.get("conditions"):
        w.write(0, "Conditions:\n")
        w.write(1, "Type\tStatus\tLastTransitionTime\tReason\tMessage\n")
        w.write(1, "----\t------\t------------------\t------\t-------\n")
        for c in status["conditions"]:
            w.write(1, f"{c.get('type', '')}\t{c.get('status', '')}\t"
                       f"{rfc1123z(c.get('lastTransitionTime'))}\t{c.get('reason', '')}\t"
                       f"{c.get('message', '')}\n")
    return w.text()


async def describe_configmap(ctx: Context, cm: dict[str, Any]) -> str:
    w = Writer()
    _metadata(w, cm)
    w.write(0, "\nData\n====\n")
    for key, value in sorted((cm.get("data") or {}).items()):
        w.write(0, f"{key}:\n----\n")
        w.write(0, f"{value}\n")
        w.write(0, "\n")
    w.write(0, "\nBinaryData\n====\n")
    for key, value in sorted((cm.get("binaryData") or {}).items()):
        w.write(0, f"{key}: {len(base64.b64decode(value))} bytes\n")
    w.write(0, "\n")
    describe_events(w, await search_events(ctx, cm))
    return w.text()


async def describe_secret(ctx: Context, secret: dict[str, Any]) -> str:
    w = Writer()
    _metadata(w, secret)
    w.write(0, f"\nType:\t{secret.get('type', '')}\n")
    w.write(0, "\nData\n====\n")
    for key, value in sorted((secret.get("data") or {}).items()):
        raw = base64.b64decode(value or "")
        if key == "token" and secret.get("type") == "kubernetes.io/service-account-token":
            w.write(0, f"{key}:\t{raw.decode(errors='replace')}\n")
        else:
            w.write(0, f"{key}:\t{len(raw)} bytes\n")
    return w.text()


DESCRIBERS: dict[tuple[str, str], Describer] = {
    ("apps", "deployments"): describe_deployment,
    ("apps", "replicasets"): describe_replicaset,
    ("", "services"): describe_service,
    ("", "namespaces"): describe_namespace,
    ("", "configmaps"): describe_configmap,
    ("", "secrets"): describe_secret,
}


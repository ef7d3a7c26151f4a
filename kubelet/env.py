"""A container's environment, and the downward API values it and volumes draw on.

Kubernetes defines the environment in layers: ``envFrom`` sources first, then
``env`` entries in order, each entry's ``$(VAR)`` references expanded against
what came before it (``$$`` escapes a dollar; unknown references stay as
written).  Values may come from the pod itself (``fieldRef``), from container
resources (``resourceFieldRef``), or from ConfigMaps and Secrets, which are
read from the API server when the container is created, so a missing object
fails that container with ``CreateContainerConfigError`` (unless ``optional``).
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Protocol

from machinery import errors
from machinery.client import ApiClient
from machinery.quantity import parse_quantity

__all__ = ["ConfigError", "ObjectSource", "ApiObjectSource", "expand", "field_value",
           "resource_value", "container_env", "object_data", "service_env"]

Obj = dict[str, Any]
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_SUBSCRIPT = re.compile(r"^(metadata\.(?:labels|annotations))\['(.+)'\]$")


class ConfigError(Exception):
    """The pod spec refers to something that is not there; shown as CreateContainerConfigError."""


class ObjectSource(Protocol):
    async def get(self, kind: str, namespace: str, name: str) -> Obj | None: ...


class ApiObjectSource:
    """Reads ConfigMaps and Secrets from the API server (None when absent)."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client

    async def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        try:
            return await self.client.get(kind, name, namespace)
        except errors.NotFound:
            return None


def object_data(kind: str, obj: Obj) -> dict[str, bytes]:
    """A ConfigMap's data+binaryData or a Secret's (decoded) data, as bytes."""
    out: dict[str, bytes] = {}
    if kind == "secrets":
        for key, value in (obj.get("data") or {}).items():
            out[key] = base64.b64decode(value or "")
        for key, value in (obj.get("stringData") or {}).items():
            out[key] = str(value).encode()
        return out
    for key, value in (obj.get("data") or {}).items():
        out[key] = str(value).encode()
    for key, value in (obj.get("binaryData") or {}).items():
        out[key] = base64.b64decode(value or "")
    return out


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char != "$" or i + 1 >= len(text):
            out.append(char)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "(":
            end = text.find(")", i + 2)
            if end < 0:
                out.append("$(")
                i += 2
                continue
            name = text[i + 2:end]
            out.append(env[name] if name in env else f"$({name})")
            i = end + 1
        else:
            out.append("$" + nxt)
            i += 2
    return "".join(out)


def _format_map(values: Mapping[str, str]) -> str:
    return "\n".join(f'{k}="{v}"' for k, v in sorted(values.items()))


def field_value(pod: Obj, path: str, pod_ip: str, host_ip: str) -> str:
    """The value of a downward API ``fieldRef`` (env or volume)."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    match = _SUBSCRIPT.match(path)
    if match:
        source = meta.get(match.group(1).split(".")[1]) or {}
        return str(source.get(match.group(2), ""))
    simple = {
        "metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"), "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.podIP": pod_ip, "status.podIPs": pod_ip,
        "status.hostIP": host_ip, "status.hostIPs": host_ip,
    }
    if path in simple:
        return str(simple[path] or "")
    if path == "metadata.labels":
        return _format_map(meta.get("labels") or {})
    if path == "metadata.annotations":
        return _format_map(meta.get("annotations") or {})
    raise ConfigError(f'unsupported fieldPath "{path}"')


def resource_value(container: Obj, ref: Obj, allocatable: Mapping[str, str]) -> str:
    """A ``resourceFieldRef``: the container's request or limit (limits default to the node's)."""
    resource = str(ref.get("resource") or "")
    section, _, name = resource.partition(".")
    if section not in ("limits", "requests") or name not in ("cpu", "memory",
                                                             "ephemeral-storage"):
        raise ConfigError(f'unsupported resource "{resource}"')
    resources = container.get("resources") or {}
    raw = (resources.get(section) or {}).get(name)
    if raw is None and section == "requests":
        raw = (resources.get("limits") or {}).get(name)
    if raw is None:
        raw = allocatable.get(name, "0")
    divisor = parse_quantity(ref.get("divisor") or "1") or Decimal(1)
    return str(math.ceil(parse_quantity(raw) / divisor))


async def _key_value(objects: ObjectSource, kind: str, namespace: str, ref: Obj) -> str | None:
    name = str(ref.get("name") or "")
    optional = bool(ref.get("optional"))
    singular = "configmap" if kind == "configmaps" else "secret"
    obj = await objects.get(kind, namespace, name)
    if obj is None:
        if optional:
            return None
        raise ConfigError(f'{singular} "{name}" not found')
    data = object_data(kind, obj)
    key = str(ref.get("key") or "")
    if key not in data:
        if optional:
            return None
        title = "ConfigMap" if kind == "configmaps" else "Secret"
        raise ConfigError(f"couldn't find key {key} in {title} {namespace}/{name}")
    return data[key].decode("utf-8", "replace")


async def _env_from(objects: ObjectSource, namespace: str, source: Obj) -> dict[str, str]:
    kind, ref = (("configmaps", source["configMapRef"]) if source.get("configMapRef")
                 else ("secrets", source.get("secretRef") or {}))
    name = str(ref.get("name") or "")
    obj = await objects.get(kind, namespace, name)
    if obj is None:
        if ref.get("optional"):
            return {}
        raise ConfigError(f'{"configmap" if kind == "configmaps" else "secret"} "{name}" not found')
    prefix = str(source.get("prefix") or "")
    return {prefix + key: value.decode("utf-8", "replace")
            for key, value in object_data(kind, obj).items() if _ENV_NAME.match(prefix + key)}


def service_env(services: list[Obj]) -> dict[str, str]:
    """Service discovery variables (``<NAME>_SERVICE_HOST`` and Docker-link style ones)."""
    env: dict[str, str] = {}
    for service in services:
        spec = service.get("spec") or {}
        ip = spec.get("clusterIP")
        ports = spec.get("ports") or []
        if not ip or ip == "None" or not ports:
            continue
        name = str((service.get("metadata") or {}).get("name")).upper().replace("-", "_")
        env[f"{name}_SERVICE_HOST"] = ip
        env[f"{name}_SERVICE_PORT"] = str(ports[0].get("port"))
        for index, port in enumerate(ports):
            number = str(port.get("port"))
            protocol = str(port.get("protocol") or "TCP")
            if port.get("name"):
                env[f"{name}_SERVICE_PORT_{str(port['name']).upper().replace('-', '_')}"] = number
            url = f"{protocol.lower()}://{ip}:{number}"
            if index == 0:
                env[f"{name}_PORT"] = url
            prefix = f"{name}_PORT_{number}_{protocol.upper()}"
            env.update({prefix: url, f"{prefix}_PROTO": protocol.lower(),
                        f"{prefix}_PORT": number, f"{prefix}_ADDR": ip})
    return env


async def container_env(pod: Obj, container: Obj, objects: ObjectSource, *, pod_ip: str,
                        host_ip: str, allocatable: Mapping[str, str],
                        services: Mapping[str, str] | None = None) -> dict[str, str]:
    """The container's final environment, in definition order.

    Service variables can be referenced by ``$(VAR)`` and are added last, only
    where the spec did not define the name itself, as the kubelet does.
    """
    namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
    services = services or {}
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        env.update(await _env_from(objects, namespace, source))
    for var in container.get("env") or []:
        name = str(var.get("name"))
        source = var.get("valueFrom")
        if not source:
            env[name] = expand(str(var.get("value") or ""), {**services, **env})
        elif source.get("fieldRef"):
            env[name] = field_value(pod, str(source["fieldRef"].get("fieldPath")), pod_ip, host_ip)
        elif source.get("resourceFieldRef"):
            env[name] = resource_value(container, source["resourceFieldRef"], allocatable)
        else:
            kind, ref = (("configmaps", source["configMapKeyRef"])
                         if source.get("configMapKeyRef")
                         else ("secrets", source.get("secretKeyRef") or {}))
            value = await _key_value(objects, kind, namespace, ref)
            if value is not None:
                env[name] = value
    for name, value in services.items():
        env.setdefault(name, value)
    return env

"""Kubeconfig files: where clients find the API server and their credentials.

Follows kubectl's loading rules so the same file serves ``kubectl`` and
``k8py``: an explicit path wins; otherwise every file in ``$KUBECONFIG`` is
merged with the first definition of each name winning; otherwise
``~/.kube/config``.  Relative certificate and token paths resolve against the
file that defined them.

The writers (``merge_context``, ``remove_context``, ``use_context``) edit one
file and leave every entry they were not asked about untouched, writing
atomically so a crash never leaves a truncated config behind.
"""

from __future__ import annotations

import base64
import copy
import os
import ssl
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "KubeconfigError",
    "ResolvedContext",
    "Kubeconfig",
    "default_paths",
    "load",
    "merge_context",
    "remove_context",
    "use_context",
    "render",
]

_SECTIONS = (("clusters", "cluster"), ("contexts", "context"), ("users", "user"))
_REDACTED_FIELDS = {
    "certificate-authority-data": "DATA+OMITTED",
    "client-certificate-data": "DATA+OMITTED",
    "client-key-data": "DATA+OMITTED",
    "token": "REDACTED",
    "password": "REDACTED",
}


class KubeconfigError(ValueError):
    """A kubeconfig is missing, unreadable or does not define what was asked for."""


@dataclass(frozen=True)
class ResolvedContext:
    """Everything needed to open a connection for one context."""

    name: str
    server: str
    namespace: str = "default"
    token: str | None = None
    ca_file: str | None = None
    ca_data: bytes | None = None
    client_cert_file: str | None = None
    client_key_file: str | None = None
    client_cert_data: bytes | None = None
    client_key_data: bytes | None = None
    insecure: bool = False

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS settings for an https server, or None for plain http."""
        if not self.server.startswith("https://"):
            return None
        ctx = ssl.create_default_context(cafile=self.ca_file)
        if self.ca_data:
            ctx.load_verify_locations(cadata=self.ca_data.decode())
        if self.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.client_cert_file or self.client_cert_data:
            _load_client_cert(ctx, self)
        return ctx


def _load_client_cert(ctx: ssl.SSLContext, resolved: ResolvedContext) -> None:
    # ssl only reads certificates from files, so inline data goes through a
    # private temporary directory that is removed straight after loading.
    with tempfile.TemporaryDirectory(prefix="k8py-cert-") as tmp:
        cert = resolved.client_cert_file
        key = resolved.client_key_file
        if resolved.client_cert_data:
            cert = os.path.join(tmp, "client.crt")
            Path(cert).write_bytes(resolved.client_cert_data)
        if resolved.client_key_data:
            key = os.path.join(tmp, "client.key")
            Path(key).write_bytes(resolved.client_key_data)
        if cert is None:
            raise KubeconfigError(f"context {resolved.name!r}: client key without certificate")
        try:
            ctx.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            raise KubeconfigError(
                f"context {resolved.name!r}: cannot load client certificate: {exc}") from exc


class Kubeconfig:
    """A loaded (possibly merged) kubeconfig, keyed by entry name."""

    def __init__(self, data: dict[str, Any] | None = None, *, origin: str | None = None) -> None:
        self.current_context: str | None = None
        self.preferences: dict[str, Any] = {}
        self.clusters: dict[str, dict[str, Any]] = {}
        self.contexts: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.paths: list[str] = []
        self._base_dir: dict[tuple[str, str], str] = {}
        if data is not None:
            self._merge(data, origin)

    def _merge(self, data: dict[str, Any], origin: str | None) -> None:
        """Add entries not defined yet (first definition wins, like kubectl)."""
        if origin is not None:
            self.paths.append(origin)
        base_dir = os.path.dirname(os.path.abspath(origin)) if origin else os.getcwd()
        for section, field in _SECTIONS:
            table: dict[str, dict[str, Any]] = getattr(self, section)
            for entry in data.get(section) or []:
                if not isinstance(entry, dict) or not entry.get("name"):
                    raise KubeconfigError(f"{origin or 'kubeconfig'}: {section} entry without a name")
                name = str(entry["name"])
                if name not in table:
                    table[name] = dict(entry.get(field) or {})
                    self._base_dir[(section, name)] = base_dir
        if not self.current_context and data.get("current-context"):
            self.current_context = str(data["current-context"])
        if not self.preferences and isinstance(data.get("preferences"), dict):
            self.preferences = dict(data["preferences"])

    def _path(self, section: str, name: str, value: str | None) -> str | None:
        if not value:
            return None
        return os.path.join(self._base_dir.get((section, name), os.getcwd()),
                            os.path.expanduser(value))

    def context(self, name: str | None = None) -> ResolvedContext:
        """Resolve a context (the current one by default) to connection settings."""
        name = name or self.current_context
        if not name:
            raise KubeconfigError("current-context is not set; pass a context name")
        ctx = self.contexts.get(name)
        if ctx is None:
            raise KubeconfigError(f"context {name!r} not found in kubeconfig")
        cluster_name = str(ctx.get("cluster") or "")
        cluster = self.clusters.get(cluster_name)
        if cluster is None:
            raise KubeconfigError(f"context {name!r}: cluster {cluster_name!r} not found")
        server = cluster.get("server")
        if not server:
            raise KubeconfigError(f"cluster {cluster_name!r} has no server")
        user_name = str(ctx.get("user") or "")
        user = self.users.get(user_name, {})
        token = user.get("token")
        token_file = self._path("users", user_name, user.get("tokenFile"))
        if not token and token_file:
            try:
                token = Path(token_file).read_text().strip()
            except OSError as exc:
                raise KubeconfigError(f"user {user_name!r}: cannot read tokenFile: {exc}") from exc
        return ResolvedContext(
            name=name,
            server=str(server).rstrip("/"),
            namespace=str(ctx.get("namespace") or "default"),
            token=token or None,
            ca_file=self._path("clusters", cluster_name, cluster.get("certificate-authority")),
            ca_data=_b64(cluster.get("certificate-authority-data"), "certificate-authority-data"),
            client_cert_file=self._path("users", user_name, user.get("client-certificate")),
            client_key_file=self._path("users", user_name, user.get("client-key")),
            client_cert_data=_b64(user.get("client-certificate-data"), "client-certificate-data"),
            client_key_data=_b64(user.get("client-key-data"), "client-key-data"),
            insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
        )

    def to_dict(self) -> dict[str, Any]:
        """The kubeconfig document, in the layout kubectl writes."""
        out: dict[str, Any] = {"apiVersion": "v1", "kind": "Config"}
        for section, field in _SECTIONS:
            table: dict[str, dict[str, Any]] = getattr(self, section)
            out[section] = [{"name": name, field: copy.deepcopy(body)}
                            for name, body in table.items()]
        out["current-context"] = self.current_context or ""
        out["preferences"] = dict(self.preferences)
        return out


def _b64(value: object, field: str) -> bytes | None:
    if not value:
        return None
    try:
        return base64.b64decode(str(value), validate=True)
    except ValueError as exc:
        raise KubeconfigError(f"{field} is not valid base64") from exc


def default_paths() -> list[str]:
    """The files kubectl would read when no path is given."""
    env = os.environ.get("KUBECONFIG")
    if env:
        return [p for p in env.split(os.pathsep) if p]
    return [os.path.join(os.path.expanduser("~"), ".kube", "config")]


def _read(path: str) -> dict[str, Any]:
    try:
        text = Path(path).read_text()
    except FileNotFoundError as exc:
        raise KubeconfigError(f"kubeconfig {path} does not exist") from exc
    except OSError as exc:
        raise KubeconfigError(f"cannot read kubeconfig {path}: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "bad YAML"
        raise KubeconfigError(f"kubeconfig {path} is not valid YAML: {first}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise KubeconfigError(f"kubeconfig {path} is not a YAML mapping")
    return data


def load(path: str | None = None) -> Kubeconfig:
    """Load one explicit file, or merge the default locations."""
    if path is not None:
        return Kubeconfig(_read(path), origin=path)
    candidates = default_paths()
    config = Kubeconfig()
    for candidate in candidates:
        if os.path.exists(candidate):
            config._merge(_read(candidate), candidate)
    if not config.paths:
        raise KubeconfigError(f"no kubeconfig found (looked at {', '.join(candidates)})")
    return config


def _read_for_edit(path: str) -> dict[str, Any]:
    data = _read(path) if os.path.exists(path) else {}
    data.setdefault("apiVersion", "v1")
    data.setdefault("kind", "Config")
    data.setdefault("preferences", {})
    for section, _ in _SECTIONS:
        if not isinstance(data.get(section), list):
            data[section] = []
    data.setdefault("current-context", "")
    return data


def _write(path: str, data: dict[str, Any]) -> None:
    target = os.path.abspath(os.path.expanduser(path))
    directory = os.path.dirname(target)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".kubeconfig-", dir=directory)
    try:
        with os.fdopen(fd, "w") as fh:
            yaml.safe_dump(data, fh, default_flow_style=False, sort_keys=False)
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _upsert(entries: list[dict[str, Any]], name: str, field: str, body: dict[str, Any]) -> None:
    for entry in entries:
        if isinstance(entry, dict) and entry.get("name") == name:
            entry[field] = body
            return
    entries.append({"name": name, field: body})


def merge_context(path: str, name: str, server: str, namespace: str = "default",
                  set_current: bool = True, *, token: str | None = None,
                  ca_data: bytes | None = None, insecure: bool = False) -> None:
    """Add or replace the cluster, user and context called ``name`` in one file."""
    data = _read_for_edit(path)
    cluster: dict[str, Any] = {"server": server}
    if ca_data:
        cluster["certificate-authority-data"] = base64.b64encode(ca_data).decode()
    if insecure:
        cluster["insecure-skip-tls-verify"] = True
    user: dict[str, Any] = {"token": token} if token else {}
    _upsert(data["clusters"], name, "cluster", cluster)
    _upsert(data["users"], name, "user", user)
    _upsert(data["contexts"], name, "context",
            {"cluster": name, "user": name, "namespace": namespace})
    if set_current:
        data["current-context"] = name
    _write(path, data)


def remove_context(path: str, name: str) -> None:
    """Delete a context, and its same-named cluster and user unless still referenced."""
    data = _read_for_edit(path)
    contexts = [c for c in data["contexts"] if c.get("name") != name]
    if len(contexts) == len(data["contexts"]):
        raise KubeconfigError(f"context {name!r} not found in {path}")
    data["contexts"] = contexts
    for section, field in (("clusters", "cluster"), ("users", "user")):
        in_use = {str((c.get("context") or {}).get(field) or "") for c in contexts}
        if name not in in_use:
            data[section] = [e for e in data[section] if e.get("name") != name]
    if data.get("current-context") == name:
        data["current-context"] = ""
    _write(path, data)


def use_context(path: str, name: str) -> None:
    """Make ``name`` the current context of the file."""
    data = _read_for_edit(path)
    if not any(c.get("name") == name for c in data["contexts"]):
        raise KubeconfigError(f"context {name!r} not found in {path}")
    data["current-context"] = name
    _write(path, data)


def _redact(entries: Iterable[dict[str, Any]]) -> None:
    for entry in entries:
        for body in entry.values():
            if isinstance(body, dict):
                for field, replacement in _REDACTED_FIELDS.items():
                    if body.get(field):
                        body[field] = replacement


def render(config: Kubeconfig, *, minify: bool = False, raw: bool = False,
           context: str | None = None) -> str:
    """YAML for ``config view``: secrets redacted unless ``raw``; ``minify`` keeps one context."""
    doc = config.to_dict()
    if minify:
        name = context or config.current_context
        if not name or name not in config.contexts:
            raise KubeconfigError("cannot minify: current-context is not set or unknown")
        ctx = config.contexts[name]
        doc["contexts"] = [c for c in doc["contexts"] if c["name"] == name]
        doc["clusters"] = [c for c in doc["clusters"] if c["name"] == ctx.get("cluster")]
        doc["users"] = [u for u in doc["users"] if u["name"] == ctx.get("user")]
        doc["current-context"] = name
    if not raw:
        for section, _ in _SECTIONS:
            _redact(doc[section])
    return yaml.safe_dump(doc, default_flow_style=False, sort_keys=True)

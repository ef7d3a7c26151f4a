"""The table of API resources k8py serves.

Kubernetes learns this table from generated type registrations; k8py keeps one
data table here because three parties need the same facts: the API server
(routes, storage keys, discovery), the REST client (URL building) and the CLI
(``get deploy`` -> apps/v1 deployments without a discovery round trip).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Resource", "RESOURCES", "by_plural", "by_kind", "lookup", "resource_path"]


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = (
        "create", "delete", "deletecollection", "get", "list", "patch", "update", "watch",
    )
    # Fields a status update may change and a main update may not (Kubernetes'
    # "status subresource" split). Empty for kinds without a status subresource.
    has_status: bool = False
    singular: str = field(default="")

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()

    @property
    def qualified(self) -> str:
        """``deployments.apps``: the name kubectl prints in errors."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def storage_group(self) -> str:
        return self.group or "core"


_ALL = ("all",)
_CRUD_NO_COLLECTION = ("create", "delete", "get", "list", "patch", "update", "watch")

RESOURCES: tuple[Resource, ...] = (
    # core/v1
    Resource("", "v1", "Namespace", "namespaces", False, ("ns",), (), ("status", "finalize"),
             verbs=_CRUD_NO_COLLECTION, has_status=True),
    Resource("", "v1", "Pod", "pods", True, ("po",), _ALL,
             ("status", "binding", "log", "exec", "attach", "portforward", "proxy", "eviction"),
             has_status=True),
    Resource("", "v1", "Node", "nodes", False, ("no",), (), ("status", "proxy"), has_status=True),
    Resource("", "v1", "Service", "services", True, ("svc",), _ALL, ("status", "proxy"),
             verbs=_CRUD_NO_COLLECTION, has_status=True),
    Resource("", "v1", "Endpoints", "endpoints", True, ("ep",), singular="endpoints"),
    Resource("", "v1", "ConfigMap", "configmaps", True, ("cm",)),
    Resource("", "v1", "Secret", "secrets", True),
    Resource("", "v1", "Event", "events", True, ("ev",)),
    Resource("", "v1", "ServiceAccount", "serviceaccounts", True, ("sa",)),
    Resource("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, ("pvc",), (),
             ("status",), has_status=True),
    Resource("", "v1", "PersistentVolume", "persistentvolumes", False, ("pv",), (), ("status",),
             has_status=True),
    # apps/v1
    Resource("apps", "v1", "Deployment", "deployments", True, ("deploy",), _ALL,
             ("status", "scale"), has_status=True),
    Resource("apps", "v1", "ReplicaSet", "replicasets", True, ("rs",), _ALL,
             ("status", "scale"), has_status=True),
    Resource("apps", "v1", "StatefulSet", "statefulsets", True, ("sts",), _ALL,
             ("status", "scale"), has_status=True),
    Resource("apps", "v1", "DaemonSet", "daemonsets", True, ("ds",), _ALL, ("status",),
             has_status=True),
    Resource("apps", "v1", "ControllerRevision", "controllerrevisions", True),
    # batch/v1
    Resource("batch", "v1", "Job", "jobs", True, (), _ALL, ("status",), has_status=True),
    Resource("batch", "v1", "CronJob", "cronjobs", True, ("cj",), _ALL, ("status",),
             has_status=True),
    # coordination.k8s.io/v1
    Resource("coordination.k8s.io", "v1", "Lease", "leases", True),
    # networking.k8s.io/v1
    Resource("networking.k8s.io", "v1", "Ingress", "ingresses", True, ("ing",), (), ("status",),
             has_status=True),
    Resource("networking.k8s.io", "v1", "IngressClass", "ingressclasses", False),
    # discovery.k8s.io/v1
    Resource("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True),
    # events.k8s.io/v1
    Resource("events.k8s.io", "v1", "Event", "events", True, ("ev",)),
    # storage.k8s.io/v1
    Resource("storage.k8s.io", "v1", "StorageClass", "storageclasses", False, ("sc",)),
    # Stored and served so manifests and `kubectl create` work; k8py does not enforce
    # quotas, RBAC or disruption budgets (there is no authorization layer).
    Resource("", "v1", "ResourceQuota", "resourcequotas", True, ("quota",), (), ("status",), has_status=True),
    Resource("", "v1", "LimitRange", "limitranges", True, ("limits",)),
    Resource("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", False, ("pc",)),
    Resource("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True, ("pdb",), (), ("status",),
             has_status=True),
    Resource("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", True, ("hpa",), _ALL,
             ("status",), has_status=True),
    Resource("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    Resource("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    Resource("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
    Resource("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
)

_BY_GVR: dict[tuple[str, str, str], Resource] = {
    (r.group, r.version, r.plural): r for r in RESOURCES
}
_BY_GVK: dict[tuple[str, str, str], Resource] = {
    (r.group, r.version, r.kind): r for r in RESOURCES
}


def by_plural(group: str, version: str, plural: str) -> Resource | None:
    return _BY_GVR.get((group, version, plural))


def by_kind(api_version: str, kind: str) -> Resource | None:
    group, _, version = api_version.rpartition("/")
    return _BY_GVK.get((group, version, kind))


def lookup(name: str) -> Resource | None:
    """Resolve what a user types (``deploy``, ``deployments.apps``, ``Pod``) to a resource.

    Like kubectl's RESTMapper, the core group wins over others on ambiguity
    (``events`` is core/v1 events, ``events.events.k8s.io`` the other one).
    """
    key = name.lower()
    plural, _, group = key.partition(".")
    candidates = [
        r for r in RESOURCES
        if (not group or r.group == group or (group == "core" and r.group == ""))
        and (plural in (r.plural, r.singular_name, r.kind.lower()) or plural in r.short_names)
    ]
    if not candidates:
        return None
    candidates.sort(key=lambda r: (r.group != "", r.group))
    return candidates[0]


def resource_path(resource: Resource, namespace: str | None = None, name: str | None = None,
                  subresource: str | None = None) -> str:
    """The REST path of a collection, an object or a subresource."""
    prefix = f"/apis/{resource.group}/{resource.version}" if resource.group else "/api/v1"
    path = prefix
    if resource.namespaced and namespace:
        path += f"/namespaces/{namespace}"
    path += f"/{resource.plural}"
    if name:
        path += f"/{name}"
        if subresource:
            path += f"/{subresource}"
    return path

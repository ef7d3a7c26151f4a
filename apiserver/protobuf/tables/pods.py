"""Tables for pod templates: ``PodTemplateSpec``, ``PodSpec`` and its scheduling parts.

Every workload generator (``create deployment|job|cronjob``) embeds one,
and ``create job --from=cronjob/<name>`` sends back whatever template the
CronJob holds, so the whole ``PodSpec`` is covered; ``kubectl debug
--copy-to --same-node`` sends a whole Pod, which adds ``nodeName`` and
``priority`` (its status goes out empty). Numbers come from those
commands' protobuf matched against the same objects printed as JSON (see
:mod:`.containers` for how the CronJobs were built); containers and volumes
have their own modules.
"""

from __future__ import annotations

from ..decode import Message

__all__ = ["MESSAGES", "KINDS"]

MESSAGES: dict[str, Message] = {
    "Pod": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "PodSpec"),
        3: ("status", "PodStatus"),
    },
    "PodStatus": {},
    "PodTemplateSpec": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "PodSpec"),
    },
    "PodSpec": {
        1: ("volumes", "[]Volume"),
        2: ("containers", "[]Container"),
        3: ("restartPolicy", "string"),
        4: ("terminationGracePeriodSeconds", "*int64"),
        5: ("activeDeadlineSeconds", "*int64"),
        6: ("dnsPolicy", "string"),
        7: ("nodeSelector", "map[string]string"),
        8: ("serviceAccountName", "string"),
        9: ("serviceAccount", "string"),
        10: ("nodeName", "string"),
        11: ("hostNetwork", "bool"),
        12: ("hostPID", "bool"),
        13: ("hostIPC", "bool"),
        14: ("securityContext", "PodSecurityContext"),
        15: ("imagePullSecrets", "[]LocalObjectReference"),
        16: ("hostname", "string"),
        17: ("subdomain", "string"),
        18: ("affinity", "Affinity"),
        19: ("schedulerName", "string"),
        20: ("initContainers", "[]Container"),
        21: ("automountServiceAccountToken", "*bool"),
        22: ("tolerations", "[]Toleration"),
        23: ("hostAliases", "[]HostAlias"),
        24: ("priorityClassName", "string"),
        25: ("priority", "*int32"),
        26: ("dnsConfig", "PodDNSConfig"),
        27: ("shareProcessNamespace", "*bool"),
        28: ("readinessGates", "[]PodReadinessGate"),
        29: ("runtimeClassName", "*string"),
        30: ("enableServiceLinks", "*bool"),
        31: ("preemptionPolicy", "*string"),
        33: ("topologySpreadConstraints", "[]TopologySpreadConstraint"),
        35: ("setHostnameAsFQDN", "*bool"),
        36: ("os", "PodOS"),
        37: ("hostUsers", "*bool"),
        38: ("schedulingGates", "[]PodSchedulingGate"),
    },
    "PodSecurityContext": {
        1: ("seLinuxOptions", "SELinuxOptions"),
        2: ("runAsUser", "*int64"),
        3: ("runAsNonRoot", "*bool"),
        4: ("supplementalGroups", "[]int64"),
        5: ("fsGroup", "*int64"),
        6: ("runAsGroup", "*int64"),
        7: ("sysctls", "[]Sysctl"),
        8: ("windowsOptions", "WindowsSecurityContextOptions"),
        9: ("fsGroupChangePolicy", "*string"),
        10: ("seccompProfile", "SeccompProfile"),
        11: ("appArmorProfile", "AppArmorProfile"),
        12: ("supplementalGroupsPolicy", "*string"),
        13: ("seLinuxChangePolicy", "*string"),
    },
    "Sysctl": {
        1: ("name", "string"),
        2: ("value", "string"),
    },
    "Toleration": {
        1: ("key", "string"),
        2: ("operator", "string"),
        3: ("value", "string"),
        4: ("effect", "string"),
        5: ("tolerationSeconds", "*int64"),
    },
    "HostAlias": {
        1: ("ip", "string"),
        2: ("hostnames", "[]string"),
    },
    "PodDNSConfig": {
        1: ("nameservers", "[]string"),
        2: ("searches", "[]string"),
        3: ("options", "[]PodDNSConfigOption"),
    },
    "PodDNSConfigOption": {
        1: ("name", "string"),
        2: ("value", "*string"),
    },
    "PodReadinessGate": {
        1: ("conditionType", "string"),
    },
    "PodSchedulingGate": {
        1: ("name", "string"),
    },
    "PodOS": {
        1: ("name", "string"),
    },
    "TopologySpreadConstraint": {
        1: ("maxSkew", "*int32"),
        2: ("topologyKey", "string"),
        3: ("whenUnsatisfiable", "string"),
        4: ("labelSelector", "LabelSelector"),
        5: ("minDomains", "*int32"),
        6: ("nodeAffinityPolicy", "*string"),
        7: ("nodeTaintsPolicy", "*string"),
        8: ("matchLabelKeys", "[]string"),
    },
    "Affinity": {
        1: ("nodeAffinity", "NodeAffinity"),
        2: ("podAffinity", "PodAffinity"),
        3: ("podAntiAffinity", "PodAffinity"),
    },
    "NodeAffinity": {
        1: ("requiredDuringSchedulingIgnoredDuringExecution", "NodeSelector"),
        2: ("preferredDuringSchedulingIgnoredDuringExecution", "[]PreferredSchedulingTerm"),
    },
    "NodeSelector": {
        1: ("nodeSelectorTerms", "[]NodeSelectorTerm"),
    },
    "NodeSelectorTerm": {
        1: ("matchExpressions", "[]NodeSelectorRequirement"),
        2: ("matchFields", "[]NodeSelectorRequirement"),
    },
    "NodeSelectorRequirement": {
        1: ("key", "string"),
        2: ("operator", "string"),
        3: ("values", "[]string"),
    },
    "PreferredSchedulingTerm": {
        1: ("weight", "*int32"),
        2: ("preference", "NodeSelectorTerm"),
    },
    "PodAffinity": {
        1: ("requiredDuringSchedulingIgnoredDuringExecution", "[]PodAffinityTerm"),
        2: ("preferredDuringSchedulingIgnoredDuringExecution", "[]WeightedPodAffinityTerm"),
    },
    "PodAffinityTerm": {
        1: ("labelSelector", "LabelSelector"),
        2: ("namespaces", "[]string"),
        3: ("topologyKey", "string"),
        4: ("namespaceSelector", "LabelSelector"),
        5: ("matchLabelKeys", "[]string"),
        6: ("mismatchLabelKeys", "[]string"),
    },
    "WeightedPodAffinityTerm": {
        1: ("weight", "*int32"),
        2: ("podAffinityTerm", "PodAffinityTerm"),
    },
}

KINDS: dict[tuple[str, str], str] = {
    ("v1", "Pod"): "Pod",
}

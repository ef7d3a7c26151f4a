"""Tables for ``Container`` and what hangs off it: ports, env, probes, lifecycle, security.

Observed through ``kubectl create job --from=cronjob/<name>``, which reads a
CronJob back from the server and sends its whole pod template as protobuf:
CronJobs written as JSON with a distinct value in every container field
(``tests/apiserver/protobuf/fixtures/cronjob-*.yaml``) were matched against
the job kubectl printed with ``--dry-run=client -o json``. Booleans were told
apart by setting them in different combinations across three CronJobs.
"""

from __future__ import annotations

from ..decode import Message

__all__ = ["MESSAGES"]

MESSAGES: dict[str, Message] = {
    "Container": {
        1: ("name", "string"),
        2: ("image", "string"),
        3: ("command", "[]string"),
        4: ("args", "[]string"),
        5: ("workingDir", "string"),
        6: ("ports", "[]ContainerPort"),
        7: ("env", "[]EnvVar"),
        8: ("resources", "ResourceRequirements"),
        9: ("volumeMounts", "[]VolumeMount"),
        10: ("livenessProbe", "Probe"),
        11: ("readinessProbe", "Probe"),
        12: ("lifecycle", "Lifecycle"),
        13: ("terminationMessagePath", "string"),
        14: ("imagePullPolicy", "string"),
        15: ("securityContext", "SecurityContext"),
        16: ("stdin", "bool"),
        17: ("stdinOnce", "bool"),
        18: ("tty", "bool"),
        19: ("envFrom", "[]EnvFromSource"),
        20: ("terminationMessagePolicy", "string"),
        21: ("volumeDevices", "[]VolumeDevice"),
        22: ("startupProbe", "Probe"),
        23: ("resizePolicy", "[]ContainerResizePolicy"),
        24: ("restartPolicy", "*string"),
    },
    "ContainerPort": {
        1: ("name", "string"),
        2: ("hostPort", "int32"),
        3: ("containerPort", "*int32"),
        4: ("protocol", "string"),
        5: ("hostIP", "string"),
    },
    "EnvVar": {
        1: ("name", "string"),
        2: ("value", "string"),
        3: ("valueFrom", "EnvVarSource"),
    },
    "EnvVarSource": {
        1: ("fieldRef", "ObjectFieldSelector"),
        2: ("resourceFieldRef", "ResourceFieldSelector"),
        3: ("configMapKeyRef", "KeySelector"),
        4: ("secretKeyRef", "KeySelector"),
    },
    "KeySelector": {
        1: ("", "LocalObjectReference"),
        2: ("key", "string"),
        3: ("optional", "*bool"),
    },
    "EnvFromSource": {
        1: ("prefix", "string"),
        2: ("configMapRef", "EnvSource"),
        3: ("secretRef", "EnvSource"),
    },
    "EnvSource": {
        1: ("", "LocalObjectReference"),
        2: ("optional", "*bool"),
    },
    "ObjectFieldSelector": {
        1: ("apiVersion", "string"),
        2: ("fieldPath", "string"),
    },
    "ResourceFieldSelector": {
        1: ("containerName", "string"),
        2: ("resource", "string"),
        3: ("divisor", "Quantity"),
    },
    "ResourceRequirements": {
        1: ("limits", "map[string]Quantity"),
        2: ("requests", "map[string]Quantity"),
    },
    "ContainerResizePolicy": {
        1: ("resourceName", "string"),
        2: ("restartPolicy", "string"),
    },
    "VolumeMount": {
        1: ("name", "string"),
        2: ("readOnly", "bool"),
        3: ("mountPath", "string"),
        4: ("subPath", "string"),
        5: ("mountPropagation", "*string"),
        6: ("subPathExpr", "string"),
        7: ("recursiveReadOnly", "*string"),
    },
    "VolumeDevice": {
        1: ("name", "string"),
        2: ("devicePath", "string"),
    },
    "Probe": {
        1: ("", "ProbeHandler"),
        2: ("initialDelaySeconds", "int32"),
        3: ("timeoutSeconds", "int32"),
        4: ("periodSeconds", "int32"),
        5: ("successThreshold", "int32"),
        6: ("failureThreshold", "int32"),
        7: ("terminationGracePeriodSeconds", "*int64"),
    },
    "ProbeHandler": {
        1: ("exec", "ExecAction"),
        2: ("httpGet", "HTTPGetAction"),
        3: ("tcpSocket", "TCPSocketAction"),
        4: ("grpc", "GRPCAction"),
    },
    "Lifecycle": {
        1: ("postStart", "LifecycleHandler"),
        2: ("preStop", "LifecycleHandler"),
    },
    "LifecycleHandler": {
        1: ("exec", "ExecAction"),
        2: ("httpGet", "HTTPGetAction"),
        3: ("tcpSocket", "TCPSocketAction"),
        4: ("sleep", "SleepAction"),
    },
    "ExecAction": {
        1: ("command", "[]string"),
    },
    "HTTPGetAction": {
        1: ("path", "string"),
        2: ("port", "IntOrString"),
        3: ("host", "string"),
        4: ("scheme", "string"),
        5: ("httpHeaders", "[]HTTPHeader"),
    },
    "HTTPHeader": {
        1: ("name", "string"),
        2: ("value", "string"),
    },
    "TCPSocketAction": {
        1: ("port", "IntOrString"),
        2: ("host", "string"),
    },
    "GRPCAction": {
        1: ("port", "*int32"),
        2: ("service", "*string"),
    },
    "SleepAction": {
        1: ("seconds", "*int64"),
    },
    "SecurityContext": {
        1: ("capabilities", "Capabilities"),
        2: ("privileged", "*bool"),
        3: ("seLinuxOptions", "SELinuxOptions"),
        4: ("runAsUser", "*int64"),
        5: ("runAsNonRoot", "*bool"),
        6: ("readOnlyRootFilesystem", "*bool"),
        7: ("allowPrivilegeEscalation", "*bool"),
        8: ("runAsGroup", "*int64"),
        9: ("procMount", "*string"),
        10: ("windowsOptions", "WindowsSecurityContextOptions"),
        11: ("seccompProfile", "SeccompProfile"),
        12: ("appArmorProfile", "AppArmorProfile"),
    },
    "Capabilities": {
        1: ("add", "[]string"),
        2: ("drop", "[]string"),
    },
    "SELinuxOptions": {
        1: ("user", "string"),
        2: ("role", "string"),
        3: ("type", "string"),
        4: ("level", "string"),
    },
    "WindowsSecurityContextOptions": {
        1: ("gmsaCredentialSpecName", "*string"),
        2: ("gmsaCredentialSpec", "*string"),
        3: ("runAsUserName", "*string"),
        4: ("hostProcess", "*bool"),
    },
    "SeccompProfile": {
        1: ("type", "string"),
        2: ("localhostProfile", "*string"),
    },
    "AppArmorProfile": {
        1: ("type", "string"),
        2: ("localhostProfile", "*string"),
    },
}

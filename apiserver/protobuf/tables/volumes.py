"""Tables for pod ``Volume``s: the volume sources a pod template can carry.

Observed like :mod:`.containers`, through ``kubectl create job --from``
with a CronJob whose template mounts one volume of each common kind
(configMap, secret, emptyDir, hostPath, persistentVolumeClaim, downwardAPI,
projected with every projection, nfs, image and ephemeral), each with
distinct names, paths and modes. ``Volume`` carries its source in an
embedded ``VolumeSource`` that JSON inlines, as do the sources that embed a
``LocalObjectReference`` for their ``name``.
"""

from __future__ import annotations

from ..decode import Message

__all__ = ["MESSAGES"]

MESSAGES: dict[str, Message] = {
    "Volume": {
        1: ("name", "string"),
        2: ("", "VolumeSource"),
    },
    "VolumeSource": {
        1: ("hostPath", "HostPathVolumeSource"),
        2: ("emptyDir", "EmptyDirVolumeSource"),
        6: ("secret", "SecretVolumeSource"),
        7: ("nfs", "NFSVolumeSource"),
        10: ("persistentVolumeClaim", "PersistentVolumeClaimVolumeSource"),
        16: ("downwardAPI", "DownwardAPIVolumeSource"),
        19: ("configMap", "ConfigMapVolumeSource"),
        26: ("projected", "ProjectedVolumeSource"),
        29: ("ephemeral", "EphemeralVolumeSource"),
        30: ("image", "ImageVolumeSource"),
    },
    "LocalObjectReference": {
        1: ("name", "string"),
    },
    "KeyToPath": {
        1: ("key", "string"),
        2: ("path", "string"),
        3: ("mode", "*int32"),
    },
    "HostPathVolumeSource": {
        1: ("path", "string"),
        2: ("type", "*string"),
    },
    "EmptyDirVolumeSource": {
        1: ("medium", "string"),
        2: ("sizeLimit", "Quantity"),
    },
    "SecretVolumeSource": {
        1: ("secretName", "string"),
        2: ("items", "[]KeyToPath"),
        3: ("defaultMode", "*int32"),
        4: ("optional", "*bool"),
    },
    "NFSVolumeSource": {
        1: ("server", "string"),
        2: ("path", "string"),
        3: ("readOnly", "bool"),
    },
    "PersistentVolumeClaimVolumeSource": {
        1: ("claimName", "string"),
        2: ("readOnly", "bool"),
    },
    "DownwardAPIVolumeSource": {
        1: ("items", "[]DownwardAPIVolumeFile"),
        2: ("defaultMode", "*int32"),
    },
    "DownwardAPIVolumeFile": {
        1: ("path", "string"),
        2: ("fieldRef", "ObjectFieldSelector"),
        3: ("resourceFieldRef", "ResourceFieldSelector"),
        4: ("mode", "*int32"),
    },
    "ConfigMapVolumeSource": {
        1: ("", "LocalObjectReference"),
        2: ("items", "[]KeyToPath"),
        3: ("defaultMode", "*int32"),
        4: ("optional", "*bool"),
    },
    "ProjectedVolumeSource": {
        1: ("sources", "[]VolumeProjection"),
        2: ("defaultMode", "*int32"),
    },
    "VolumeProjection": {
        1: ("secret", "SecretProjection"),
        2: ("downwardAPI", "DownwardAPIProjection"),
        3: ("configMap", "ConfigMapProjection"),
        4: ("serviceAccountToken", "ServiceAccountTokenProjection"),
        5: ("clusterTrustBundle", "ClusterTrustBundleProjection"),
    },
    "SecretProjection": {
        1: ("", "LocalObjectReference"),
        2: ("items", "[]KeyToPath"),
        4: ("optional", "*bool"),
    },
    "ConfigMapProjection": {
        1: ("", "LocalObjectReference"),
        2: ("items", "[]KeyToPath"),
        4: ("optional", "*bool"),
    },
    "DownwardAPIProjection": {
        1: ("items", "[]DownwardAPIVolumeFile"),
    },
    "ServiceAccountTokenProjection": {
        1: ("audience", "string"),
        2: ("expirationSeconds", "*int64"),
        3: ("path", "string"),
    },
    "ClusterTrustBundleProjection": {
        1: ("name", "*string"),
        4: ("path", "string"),
        5: ("optional", "*bool"),
    },
    "ImageVolumeSource": {
        1: ("reference", "string"),
        2: ("pullPolicy", "string"),
    },
    "EphemeralVolumeSource": {
        1: ("volumeClaimTemplate", "PersistentVolumeClaimTemplate"),
    },
    "PersistentVolumeClaimTemplate": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "PersistentVolumeClaimSpec"),
    },
    "PersistentVolumeClaimSpec": {
        1: ("accessModes", "[]string"),
        2: ("resources", "VolumeResourceRequirements"),
        5: ("storageClassName", "*string"),
        6: ("volumeMode", "*string"),
    },
    "VolumeResourceRequirements": {
        2: ("requests", "map[string]Quantity"),
    },
}

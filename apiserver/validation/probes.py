"""Probe and lifecycle-hook validation: exactly one handler, sane thresholds.

Liveness and startup probes must succeed once to count (``successThreshold``
1); readiness probes may not carry their own termination grace period; a
``sleep`` hook must fit in the pod's termination grace period.
"""

from __future__ import annotations

from typing import Any

from apiserver.validation import field, names
from apiserver.validation.field import Cause
from apiserver.validation.names import validate_port_num_or_name
from apiserver.validation.values import as_dict, as_int, as_list, as_str, dicts, nonnegative

__all__ = ["validate_lifecycle_and_probes"]


def _handler(handler: Any, grace: int | None, path: str, allowed: tuple[str, ...]) -> list[Cause]:
    handler = as_dict(handler)
    causes: list[Cause] = []
    chosen = 0
    for kind in allowed:
        action = handler.get(kind)
        if not isinstance(action, dict):
            continue
        kind_path = field.child(path, kind)
        if chosen:
            causes.append(field.forbidden(kind_path, "may not specify more than 1 handler type"))
            continue
        chosen += 1
        if kind == "exec" and not as_list(action.get("command")):
            causes.append(field.required(field.child(kind_path, "command")))
        elif kind == "httpGet":
            if not as_str(action.get("path")):
                causes.append(field.required(field.child(kind_path, "path")))
            causes += validate_port_num_or_name(action.get("port"), field.child(kind_path, "port"))
            scheme = as_str(action.get("scheme"))
            if scheme not in ("HTTP", "HTTPS"):
                causes.append(field.not_supported(field.child(kind_path, "scheme"), scheme,
                                                  ("HTTP", "HTTPS")))
            for _, header in dicts(action.get("httpHeaders")):
                header_name = as_str(header.get("name"))
                causes += [field.invalid(field.child(kind_path, "httpHeaders"), header_name, m)
                           for m in names.is_http_header_name(header_name)]
        elif kind == "tcpSocket":
            causes += validate_port_num_or_name(action.get("port"), field.child(kind_path, "port"))
        elif kind == "grpc":
            causes += validate_port_num_or_name(as_int(action.get("port")) or 0,
                                                field.child(kind_path, "port"))
        elif kind == "sleep":
            seconds = as_int(action.get("seconds")) or 0
            if grace is not None and not 0 < seconds <= grace:
                causes.append(field.invalid(kind_path, seconds, "must be greater than 0 and less "
                                            f"than terminationGracePeriodSeconds ({grace}). Enable "
                                            "AllowPodLifecycleSleepActionZeroValue feature gate "
                                            "for zero sleep."))
    if not chosen:
        causes.append(field.required(path, "must specify a handler type"))
    return causes


def _probe(probe: Any, grace: int | None, path: str, which: str) -> list[Cause]:
    if not isinstance(probe, dict):
        return []
    causes = _handler(probe, grace, path, ("exec", "httpGet", "tcpSocket", "grpc"))
    for attr in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold",
                 "failureThreshold"):
        causes += nonnegative(probe.get(attr), field.child(path, attr))
    probe_grace = as_int(probe.get("terminationGracePeriodSeconds"))
    if probe_grace is not None and probe_grace <= 0:
        causes.append(field.invalid(field.child(path, "terminationGracePeriodSeconds"),
                                    probe_grace, "must be greater than 0"))
    if which == "readinessProbe" and probe_grace is not None:
        causes.append(field.invalid(field.child(path, "terminationGracePeriodSeconds"),
                                    probe_grace, "must not be set for readinessProbes"))
    success = as_int(probe.get("successThreshold"))
    if which != "readinessProbe" and success is not None and success != 1:
        causes.append(field.invalid(field.child(path, "successThreshold"), success, "must be 1"))
    return causes


def validate_lifecycle_and_probes(ctr: dict[str, Any], grace: int | None,
                                  path: str) -> list[Cause]:
    """What regular and restartable init containers may carry."""
    causes: list[Cause] = []
    lifecycle = ctr.get("lifecycle")
    if isinstance(lifecycle, dict):
        for hook in ("postStart", "preStop"):
            if isinstance(lifecycle.get(hook), dict):
                causes += _handler(lifecycle[hook], grace,
                                   field.child(field.child(path, "lifecycle"), hook),
                                   ("exec", "httpGet", "tcpSocket", "sleep"))
    for which in ("livenessProbe", "readinessProbe", "startupProbe"):
        causes += _probe(ctr.get(which), grace, field.child(path, which), which)
    return causes

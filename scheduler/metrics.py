"""The scheduler's Prometheus metrics, named as kube-scheduler names them.

Dashboards and alerts written for Kubernetes (pending pods piling up,
attempts failing) then work unchanged against k8py's /metrics.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = ["SCHEDULED", "UNSCHEDULABLE", "ERROR", "schedule_attempts", "attempt_duration",
           "pending_pods", "pod_scheduling_attempts", "leader"]

SCHEDULED = "scheduled"
UNSCHEDULABLE = "unschedulable"
ERROR = "error"

schedule_attempts = Counter(
    "scheduler_schedule_attempts", "Number of attempts to schedule pods, by the result.",
    ["result", "profile"])
attempt_duration = Histogram(
    "scheduler_scheduling_attempt_duration_seconds",
    "Scheduling attempt latency in seconds (scheduling algorithm + binding)",
    ["result", "profile"], buckets=(0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128,
                                    0.256, 0.512, 1.024, 2.048, 4.096, 8.192, 16.384))
pending_pods = Gauge(
    "scheduler_pending_pods", "Number of pending pods, by the queue type.", ["queue"])
pod_scheduling_attempts = Histogram(
    "scheduler_pod_scheduling_attempts", "Number of attempts to successfully schedule a pod.",
    buckets=(1, 2, 4, 8, 16))
leader = Gauge(
    "leader_election_master_status",
    "Whether this process is the leader (1) or a standby (0).", ["name"])

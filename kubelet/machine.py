"""Facts about the machine a kubelet runs on, for the Node's nodeInfo and capacity.

Read from the places the real kubelet (through cAdvisor) reads them:
/etc/machine-id, the DMI product UUID, the kernel's boot id, /etc/os-release,
/proc/meminfo, the CPU affinity mask and the root folder's filesystem.  Each
read falls back to something stable when the file is missing or unreadable,
as happens inside containers.
"""

from __future__ import annotations

import os
import platform
import shutil
import uuid
from dataclasses import dataclass

__all__ = ["MachineInfo", "machine_info", "go_arch"]

_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
         "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x", "i686": "386"}


@dataclass(frozen=True)
class MachineInfo:
    machine_id: str
    system_uuid: str
    boot_id: str
    kernel_version: str
    os_image: str
    architecture: str
    cpus: int
    memory_bytes: int
    ephemeral_bytes: int


def go_arch(machine: str | None = None) -> str:
    """Go's GOARCH name for this machine (``x86_64`` is ``amd64``)."""
    name = (machine or platform.machine()).lower()
    return _ARCH.get(name, name)


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def _os_image() -> str:
    for line in _read("/etc/os-release").splitlines():
        key, _, value = line.partition("=")
        if key == "PRETTY_NAME":
            return value.strip().strip('"')
    return "Linux"


def _memory_bytes() -> int:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def machine_info(root_dir: str, node_name: str) -> MachineInfo:
    """This machine's facts; ids derive from the node name when the OS has none."""
    machine_id = _read("/etc/machine-id") or _read("/var/lib/dbus/machine-id") or \
        uuid.uuid5(uuid.NAMESPACE_DNS, node_name).hex
    system_uuid = _read("/sys/class/dmi/id/product_uuid") or str(uuid.UUID(machine_id[:32]))
    folder = root_dir
    while folder and not os.path.exists(folder):
        folder = os.path.dirname(folder)
    try:
        disk = shutil.disk_usage(folder or "/").total
    except OSError:
        disk = 0
    return MachineInfo(
        machine_id=machine_id, system_uuid=system_uuid,
        boot_id=_read("/proc/sys/kernel/random/boot_id"),
        kernel_version=platform.release(), os_image=_os_image(), architecture=go_arch(),
        cpus=_cpus(), memory_bytes=_memory_bytes(), ephemeral_bytes=disk)

"""Having a container's image before creating it, per ``imagePullPolicy``.

``Never`` and ``IfNotPresent`` use the local image; ``Always`` (or a missing
image) pulls.  No registry is reachable from a k8py cluster, so a pull of an
image that was not built locally fails, and the container then waits with
``ErrImagePull`` and, while the pull back-off runs, ``ImagePullBackOff`` --
with the same events Kubernetes sends.  As in Kubernetes, ``Always`` (the
default for untagged and ``:latest`` images) means a pull even when the image
is present, so locally built images want a tag or ``IfNotPresent``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubelet.backoff import Backoff
from kubelet.runtime import DockerError, DockerRuntime
from machinery.events import NORMAL, WARNING, EventRecorder

__all__ = ["ImageManager", "ImageResult", "image_ref"]

Obj = dict[str, Any]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageResult:
    """Either the image's inspect data, or why the container must wait."""

    image: dict[str, Any] | None
    reason: str = ""
    message: str = ""
    retry_after: float = 0.0


def image_ref(image: dict[str, Any]) -> str:
    """The container status ``imageID``: the repo digest when pulled, else the local id."""
    digests = image.get("RepoDigests") or []
    if digests:
        return f"docker-pullable://{digests[0]}"
    return str(image.get("Id", ""))


def _has_tag(name: str) -> bool:
    return "@" in name or ":" in name.rsplit("/", 1)[-1]


def pull_policy(container: Obj) -> str:
    policy = container.get("imagePullPolicy")
    if policy:
        return str(policy)
    image = str(container.get("image") or "")
    return "Always" if not _has_tag(image) or image.endswith(":latest") else "IfNotPresent"


class ImageManager:
    """Pull policy, pulls with back-off, and a brief memory of images found present.

    A burst of pods of one image would otherwise inspect it once per container,
    queueing behind the creates and starts on Docker; an image seen within the
    last ``present_ttl`` seconds counts as still there (if it was removed
    meanwhile, creating the container fails and is retried as usual).
    """

    def __init__(self, runtime: DockerRuntime, recorder: EventRecorder,
                 backoff: Backoff, *, present_ttl: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.runtime = runtime
        self.recorder = recorder
        self.backoff = backoff
        self.present_ttl = present_ttl
        self.clock = clock
        self._failed_at: dict[str, float] = {}  # back-off key -> time of the last failed pull
        self._present: dict[str, tuple[float, dict[str, Any]]] = {}  # name -> (seen at, inspect)

    async def _local(self, image: str) -> dict[str, Any] | None:
        now = self.clock()
        seen = self._present.get(image)
        if seen is not None and now - seen[0] < self.present_ttl:
            return seen[1]
        local = await self.runtime.image(image)
        if local is None:
            self._present.pop(image, None)
        else:
            self._present[image] = (now, local)
        return local

    async def ensure(self, pod: Obj, container: Obj, field_path: str) -> ImageResult:
        image = str(container.get("image") or "")
        policy = pull_policy(container)
        local = await self._local(image) if policy != "Always" else None  # Always pulls
        uid = str((pod.get("metadata") or {}).get("uid"))
        if policy == "Never" or (policy == "IfNotPresent" and local is not None):
            if local is None:
                message = f'Container image "{image}" is not present with pull policy of Never'
                self.recorder.event(pod, WARNING, "ErrImageNeverPull", message,
                                    field_path=field_path)
                return ImageResult(None, "ErrImageNeverPull", message)
            self.recorder.event(pod, NORMAL, "Pulled",
                                f'Container image "{image}" already present on machine',
                                field_path=field_path)
            return ImageResult(local)
        key = f"{uid}/{image}"
        failed_at = self._failed_at.get(key)
        if failed_at is not None and self.backoff.in_backoff_since(key, failed_at):
            self.recorder.event(pod, NORMAL, "BackOff", f'Back-off pulling image "{image}"',
                                field_path=field_path)
            self.recorder.event(pod, WARNING, "Failed", "Error: ImagePullBackOff",
                                field_path=field_path)
            return ImageResult(None, "ImagePullBackOff", f'Back-off pulling image "{image}"',
                               self.backoff.remaining(key, failed_at))
        return await self._pull(pod, image, key, field_path)

    async def _pull(self, pod: Obj, image: str, key: str, field_path: str) -> ImageResult:
        self.recorder.event(pod, NORMAL, "Pulling", f'Pulling image "{image}"',
                            field_path=field_path)
        started = time.monotonic()
        try:
            pulled = await self.runtime.pull(image)
        except (DockerError, OSError) as exc:
            message = f'Failed to pull image "{image}": {exc}'
            self.recorder.event(pod, WARNING, "Failed", message, field_path=field_path)
            self.recorder.event(pod, WARNING, "Failed", "Error: ErrImagePull",
                                field_path=field_path)
            now = self.backoff.clock()
            self.backoff.next(key, now)
            self._failed_at[key] = now
            # Come back halfway through the back-off, to show ImagePullBackOff as Kubernetes does.
            return ImageResult(None, "ErrImagePull", message,
                               self.backoff.remaining(key, now) / 2)
        self._failed_at.pop(key, None)
        self.backoff.reset(key)
        took = time.monotonic() - started
        self.recorder.event(pod, NORMAL, "Pulled",
                            f'Successfully pulled image "{image}" in {took:.3f}s. '
                            f'Image size: {int(pulled.get("Size") or 0)} bytes.',
                            field_path=field_path)
        return ImageResult(pulled)

    def forget_pod(self, uid: str) -> None:
        self.backoff.forget_prefix(f"{uid}/")
        for key in [k for k in self._failed_at if k.startswith(f"{uid}/")]:
            del self._failed_at[key]

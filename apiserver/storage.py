"""The API server's only door to etcd.

Objects are stored as JSON under ``/registry/<group>/<resource>/[<namespace>/]<name>``
without a resourceVersion: the version *is* the key's etcd mod revision, filled
in on every read, so it can never disagree with etcd. Every write is a single
etcd transaction guarded by the revision the caller read (create: the key must
not exist), which is what gives Kubernetes' optimistic concurrency.

aetcd's convenience wrappers drop ``limit``/``revision`` and the response
header of empty reads, so this module talks to its gRPC stubs directly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aetcd
import aetcd.exceptions
import orjson
from aetcd import rpc

from machinery import errors

__all__ = ["Storage", "StoredEvent", "Compacted", "prefix_end"]

log = logging.getLogger("apiserver.storage")

Obj = dict[str, Any]


class Compacted(Exception):
    """The requested revision is older than etcd's compaction point."""

    def __init__(self, requested: int, compacted: int) -> None:
        super().__init__(f"too old resource version: {requested} ({compacted})")
        self.requested = requested
        self.compacted = compacted


@dataclass(slots=True)
class StoredEvent:
    type: str  # ADDED | MODIFIED | DELETED
    key: str
    obj: Obj
    prev: Obj | None
    revision: int


def prefix_end(prefix: bytes) -> bytes:
    """The exclusive end of the etcd range covering every key under ``prefix``."""
    b = bytearray(prefix)
    for i in range(len(b) - 1, -1, -1):
        if b[i] < 0xFF:
            b[i] += 1
            return bytes(b[: i + 1])
    return b"\0"


def _decode(value: bytes, mod_revision: int) -> Obj:
    obj: Obj = orjson.loads(value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(mod_revision)
    return obj


def _encode(obj: Obj) -> bytes:
    meta = obj.get("metadata") or {}
    if "resourceVersion" in meta:
        obj = {**obj, "metadata": {k: v for k, v in meta.items() if k != "resourceVersion"}}
    return orjson.dumps(obj)


def _unavailable(exc: BaseException) -> errors.ServiceUnavailable:
    return errors.ServiceUnavailable(f"storage is unavailable: {type(exc).__name__}: {exc}")


class Storage:
    """A connection to one etcd cluster (endpoints tried in order on connect)."""

    def __init__(self, endpoints: list[str], *, timeout: float = 10.0) -> None:
        if not endpoints:
            raise ValueError("at least one etcd endpoint is required")
        self._endpoints = endpoints
        self._timeout = timeout
        self._client: aetcd.Client | None = None
        self._lock = asyncio.Lock()

    @staticmethod
    def _host_port(url: str) -> tuple[str, int]:
        rest = url.split("://", 1)[-1].rstrip("/")
        host, _, port = rest.rpartition(":")
        if not host:
            return rest, 2379
        return host.strip("[]"), int(port)

    async def connect(self) -> None:
        async with self._lock:
            if self._client is not None:
                return
            last: BaseException | None = None
            for url in self._endpoints:
                host, port = self._host_port(url)
                client = aetcd.Client(host=host, port=port, timeout=int(self._timeout))
                try:
                    await client.connect()
                    await client.kvstub.Range(
                        rpc.RangeRequest(key=b"/registry/", range_end=b"/registry0", count_only=True),
                        timeout=self._timeout,
                    )
                except Exception as exc:  # noqa: BLE001 - try the next endpoint
                    last = exc
                    await client.close()
                    continue
                self._client = client
                log.info("connected to etcd at %s", url)
                return
            raise _unavailable(last or RuntimeError("no endpoint"))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    @property
    def client(self) -> aetcd.Client:
        if self._client is None:
            raise errors.ServiceUnavailable("storage is not connected")
        return self._client

    async def _range(self, req: rpc.RangeRequest) -> Any:
        try:
            return await self.client.kvstub.Range(req, timeout=self._timeout)
        except rpc.AioRpcError as exc:
            if "compacted" in (exc.details() or ""):
                raise Compacted(req.revision, 0) from exc
            raise _unavailable(exc) from exc

    async def _txn(self, req: rpc.TxnRequest) -> Any:
        try:
            return await self.client.kvstub.Txn(req, timeout=self._timeout)
        except rpc.AioRpcError as exc:
            if exc.code().name == "INVALID_ARGUMENT" and "too large" in (exc.details() or ""):
                raise errors.RequestEntityTooLarge("etcdserver: request is too large") from exc
            raise _unavailable(exc) from exc

    # -- reads -------------------------------------------------------------

    async def current_revision(self) -> int:
        resp = await self._range(rpc.RangeRequest(key=b"\0k8py-rev", count_only=True))
        return int(resp.header.revision)

    async def get(self, key: str) -> Obj | None:
        resp = await self._range(rpc.RangeRequest(key=key.encode()))
        if not resp.kvs:
            return None
        kv = resp.kvs[0]
        return _decode(kv.value, kv.mod_revision)

    async def list(
        self, prefix: str, *, start_key: str | None = None, limit: int = 0, revision: int = 0
    ) -> tuple[list[Obj], int, bool, str | None]:
        """One page of keys under ``prefix``: (objects, revision, more, last key)."""
        p = prefix.encode()
        req = rpc.RangeRequest(
            key=start_key.encode() if start_key else p,
            range_end=prefix_end(p),
            limit=limit,
            revision=revision,
        )
        resp = await self._range(req)
        objs = [_decode(kv.value, kv.mod_revision) for kv in resp.kvs]
        last = resp.kvs[-1].key.decode() if resp.kvs else None
        return objs, int(resp.header.revision), bool(resp.more), last

    # -- writes ------------------------------------------------------------

    async def create(self, key: str, obj: Obj, *, extra_creates: dict[str, bytes] | None = None) -> Obj:
        """Create ``key``; fails with AlreadyExists (or a Conflict on an extra key)."""
        k = key.encode()
        compare = [rpc.Compare(key=k, target=rpc.Compare.VERSION, result=rpc.Compare.EQUAL, version=0)]
        ops = [rpc.RequestOp(request_put=rpc.PutRequest(key=k, value=_encode(obj)))]
        for extra_key, value in (extra_creates or {}).items():
            ek = extra_key.encode()
            compare.append(rpc.Compare(key=ek, target=rpc.Compare.VERSION, result=rpc.Compare.EQUAL, version=0))
            ops.append(rpc.RequestOp(request_put=rpc.PutRequest(key=ek, value=value)))
        resp = await self._txn(rpc.TxnRequest(compare=compare, success=ops))
        if not resp.succeeded:
            if extra_creates and await self.get(key) is None:
                raise errors.Conflict("a value requested for this object is already allocated")
            raise errors.AlreadyExists(f"{key} already exists")
        out = orjson.loads(orjson.dumps(obj))
        out.setdefault("metadata", {})["resourceVersion"] = str(resp.header.revision)
        return out

    async def update(
        self, key: str, obj: Obj, expected_revision: int, *, extra_deletes: list[str] | None = None,
        extra_creates: dict[str, bytes] | None = None,
    ) -> Obj:
        """Replace ``key`` only if its mod revision is still ``expected_revision``."""
        k = key.encode()
        compare = [rpc.Compare(key=k, target=rpc.Compare.MOD, result=rpc.Compare.EQUAL,
                               mod_revision=expected_revision)]
        ops = [rpc.RequestOp(request_put=rpc.PutRequest(key=k, value=_encode(obj)))]
        for extra_key, value in (extra_creates or {}).items():
            ek = extra_key.encode()
            compare.append(rpc.Compare(key=ek, target=rpc.Compare.VERSION, result=rpc.Compare.EQUAL, version=0))
            ops.append(rpc.RequestOp(request_put=rpc.PutRequest(key=ek, value=value)))
        for extra in extra_deletes or ():
            ops.append(rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=extra.encode())))
        resp = await self._txn(rpc.TxnRequest(compare=compare, success=ops))
        if not resp.succeeded:
            current = await self.get(key)
            if current is None:
                raise errors.NotFound(f"{key} not found")
            if extra_creates and current["metadata"]["resourceVersion"] == str(expected_revision):
                raise errors.Conflict("a value requested for this object is already allocated")
            raise errors.Conflict("the object has been modified")
        out = orjson.loads(orjson.dumps(obj))
        out.setdefault("metadata", {})["resourceVersion"] = str(resp.header.revision)
        return out

    async def delete(self, key: str, expected_revision: int, *, extra_deletes: list[str] | None = None) -> int:
        """Delete ``key`` if unchanged since ``expected_revision``; returns the deletion revision."""
        k = key.encode()
        compare = [rpc.Compare(key=k, target=rpc.Compare.MOD, result=rpc.Compare.EQUAL,
                               mod_revision=expected_revision)]
        ops = [rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=k))]
        for extra in extra_deletes or ():
            ops.append(rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=extra.encode())))
        resp = await self._txn(rpc.TxnRequest(compare=compare, success=ops))
        if not resp.succeeded:
            if await self.get(key) is None:
                raise errors.NotFound(f"{key} not found")
            raise errors.Conflict("the object has been modified")
        return int(resp.header.revision)

    async def keys(self, prefix: str) -> list[str]:
        p = prefix.encode()
        resp = await self._range(rpc.RangeRequest(key=p, range_end=prefix_end(p), keys_only=True))
        return [kv.key.decode() for kv in resp.kvs]

    async def compact(self, revision: int) -> None:
        try:
            await self.client.kvstub.Compact(rpc.CompactionRequest(revision=revision), timeout=self._timeout)
        except rpc.AioRpcError as exc:
            if "compacted" not in (exc.details() or ""):
                raise _unavailable(exc) from exc

    # -- watch -------------------------------------------------------------

    async def watch(self, prefix: str, start_revision: int) -> AsyncIterator[StoredEvent]:
        """Events under ``prefix`` from ``start_revision`` (inclusive); raises Compacted."""
        p = prefix.encode()
        try:
            w = await self.client.watch(p, range_end=prefix_end(p), start_revision=start_revision, prev_kv=True)
        except aetcd.exceptions.ClientError as exc:
            raise _unavailable(exc) from exc
        try:
            async for ev in w:
                kv = ev.kv
                key = kv.key.decode()
                if ev.kind == "PUT":
                    obj = _decode(kv.value, kv.mod_revision)
                    prev = (_decode(ev.prev_kv.value, ev.prev_kv.mod_revision)
                            if ev.prev_kv is not None and ev.prev_kv.key else None)
                    kind = "ADDED" if kv.version == 1 else "MODIFIED"
                    yield StoredEvent(kind, key, obj, prev, kv.mod_revision)
                else:
                    if ev.prev_kv is None or not ev.prev_kv.key:
                        continue
                    obj = _decode(ev.prev_kv.value, kv.mod_revision)
                    prev = _decode(ev.prev_kv.value, ev.prev_kv.mod_revision)
                    yield StoredEvent("DELETED", key, obj, prev, kv.mod_revision)
        except aetcd.exceptions.RevisionCompactedError as exc:
            raise Compacted(start_revision, int(exc.compacted_revision)) from exc
        except aetcd.exceptions.ClientError as exc:
            raise _unavailable(exc) from exc
        finally:
            try:
                await w.cancel()
            except Exception:  # noqa: BLE001 - the stream may already be gone
                pass

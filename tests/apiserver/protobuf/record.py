"""Record kubectl 1.32's protobuf request bodies as test fixtures.

    python -m tests.apiserver.protobuf.record [CASE ...]

Starts etcd and an API server as the test fixtures do, puts a recording
proxy in front of it, and for each case runs the kubectl command twice: once
with ``--dry-run=client -o json`` (the object as kubectl would send it in
JSON) and once for real through the proxy (the same object as protobuf).
Each case becomes ``fixtures/<case>.json`` holding the command, the body's
bytes in hex and kubectl's JSON, which is how the message tables in
``apiserver/protobuf/tables`` were established and how the tests check them.
Values are chosen to be distinct so that every field number can be matched
to one JSON path.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple

import httpx

from tests.conftest import ApiServerProcess, Etcd

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PROTOBUF = "application/vnd.kubernetes.protobuf"


class Case(NamedTuple):
    name: str
    args: tuple[str, ...]
    setup: tuple[str, ...] = ()  # manifests under fixtures/manifests applied first
    dry_run: bool = True  # `create token` has no --dry-run


_SELECTOR = "app in (x,y),!tier,env=prod,zone notin (a)"

CASES: tuple[Case, ...] = (
    Case("namespace", ("create", "namespace", "pb-ns")),
    Case("configmap", ("create", "configmap", "pb-cm", "--from-literal=k1=v1", "--from-literal=k2=",
                       "--from-file=f.txt={dir}/f.txt", "--from-file=bin={dir}/bin.dat", "--append-hash")),
    Case("configmap-save-config", ("create", "configmap", "pb-cm2", "-n", "other", "--from-env-file={dir}/env.txt",
                                   "--save-config")),
    Case("secret-generic", ("create", "secret", "generic", "pb-s", "--from-literal=a=b", "--from-literal=e=",
                            "--type=my/type", "--from-file={dir}/bin.dat", "--append-hash")),
    Case("secret-docker-registry", ("create", "secret", "docker-registry", "pb-d", "--docker-server=reg.io",
                                    "--docker-username=u", "--docker-password=p", "--docker-email=e@x")),
    Case("service-clusterip", ("create", "service", "clusterip", "pb-c", "--tcp=80:8080", "--tcp=443:https")),
    Case("service-headless", ("create", "service", "clusterip", "pb-h", "--clusterip=None")),
    Case("service-nodeport", ("create", "service", "nodeport", "pb-n", "--tcp=80:8080", "--node-port=30080")),
    Case("service-loadbalancer", ("create", "service", "loadbalancer", "pb-l", "--tcp=80:8080")),
    Case("service-externalname", ("create", "service", "externalname", "pb-e", "--external-name=example.com",
                                  "--tcp=80")),
    Case("deployment", ("create", "deployment", "pb-d", "--image=img/a:1", "--image=img/b:2", "--replicas=3",
                        "--port=8080")),
    Case("deployment-command", ("create", "deployment", "pb-d0", "--image=img/a:1", "--replicas=0", "--",
                                "/bin/sh", "-c", "echo hi")),
    Case("job", ("create", "job", "pb-j", "--image=x", "--", "cmd", "arg1")),
    Case("cronjob", ("create", "cronjob", "pb-cj", "--image=x", "--schedule=*/5 * * * *", "--restart=Never",
                     "--", "cmd", "arg")),
    Case("job-from-cronjob-rich", ("create", "job", "pb-jr", "--from=cronjob/rich"), ("cronjob-rich.yaml",)),
    Case("job-from-cronjob-bools-b", ("create", "job", "pb-jb", "--from=cronjob/bools-b"),
         ("cronjob-bools-b.yaml",)),
    Case("job-from-cronjob-bools-c", ("create", "job", "pb-jc", "--from=cronjob/bools-c"),
         ("cronjob-bools-c.yaml",)),
    Case("ingress", ("create", "ingress", "pb-i", "--class=nginx", "--rule=foo.com/path*=svc1:8080,tls=tsec",
                     "--rule=bar.com/exact=svc2:http", "--default-backend=defsvc:80", "--annotation=a=b")),
    Case("serviceaccount", ("create", "serviceaccount", "pb-sa")),
    Case("quota", ("create", "quota", "pb-q", "--hard=cpu=1,memory=1G,pods=2,requests.storage=1Gi",
                   "--scopes=BestEffort,NotTerminating")),
    Case("priorityclass", ("create", "priorityclass", "pb-pc", "--value=100", "--global-default",
                           "--description=desc", "--preemption-policy=Never")),
    Case("priorityclass-zero", ("create", "priorityclass", "pb-pc0", "--value=0")),
    Case("pdb-min-available", ("create", "pdb", "pb-p1", "--selector=app=x", "--min-available=50%")),
    Case("pdb-max-unavailable", ("create", "pdb", "pb-p2", "--selector=app=y", "--max-unavailable=1")),
    Case("pdb-expressions", ("create", "pdb", "pb-p3", f"--selector={_SELECTOR}", "--min-available=2")),
    Case("role", ("create", "role", "pb-r", "--verb=get,list", "--resource=pods,deployments.apps",
                  "--resource-name=x", "--resource-name=y")),
    Case("clusterrole", ("create", "clusterrole", "pb-cr", "--verb=get,post", "--non-resource-url=/logs",
                         "--resource=pods")),
    Case("clusterrole-aggregation", ("create", "clusterrole", "pb-cra", "--aggregation-rule=a=b")),
    Case("rolebinding", ("create", "rolebinding", "pb-rb", "--role=r", "--user=u", "--group=g",
                         "--serviceaccount=ns:sa")),
    Case("clusterrolebinding", ("create", "clusterrolebinding", "pb-crb", "--clusterrole=cr", "--user=u",
                                "--group=g", "--serviceaccount=ns:sa")),
    Case("token", ("create", "token", "pb-sa", "--audience=a", "--duration=10m", "--bound-object-kind=Pod",
                   "--bound-object-name=p", "--bound-object-uid=123"), dry_run=False),
    Case("autoscale", ("autoscale", "deployment", "pb-web", "--min=2", "--max=5", "--cpu-percent=80", "--name=pb-h"),
         ("deployment.yaml",)),
    Case("autoscale-max-only", ("autoscale", "deployment", "pb-web", "--max=3"), ("deployment.yaml",)),
    Case("auth-can-i-resource", ("auth", "can-i", "get", "pods.apps/x", "--subresource=log", "-n", "ns1"),
         dry_run=False),
    Case("auth-can-i-group", ("auth", "can-i", "create", "deployments.apps", "--all-namespaces"), dry_run=False),
    Case("auth-can-i-path", ("auth", "can-i", "get", "/logs"), dry_run=False),
    Case("auth-can-i-list", ("auth", "can-i", "--list", "-n", "ns2"), dry_run=False),
    Case("auth-whoami", ("auth", "whoami"), dry_run=False),
    Case("debug-copy", ("debug", "richpod", "--copy-to=pb-copy", "--image=busybox:2", "--same-node",
                        "--share-processes=false", "--profile=general", "-q"), ("pod-rich.yaml",), dry_run=False),
    Case("debug-node", ("debug", "node/pb-node", "--image=busybox:1", "--profile=general", "-q"), ("node.yaml",),
         dry_run=False),
)


class _Recorder:
    """A forwarding proxy that keeps every protobuf request body it sees."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.bodies: list[bytes] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if PROTOBUF in (self.headers.get("Content-Type") or ""):
                    recorder.bodies.append(body)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                reply = httpx.request(self.command, recorder.upstream + self.path, content=body, headers=headers)
                self.send_response(reply.status_code)
                self.send_header("Content-Type", reply.headers.get("content-type", "application/json"))
                self.send_header("Content-Length", str(len(reply.content)))
                self.end_headers()
                self.wfile.write(reply.content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _kubectl(server: str, args: list[str], folder: Path) -> subprocess.CompletedProcess[str]:
    config = folder / "kubeconfig"
    config.write_text("apiVersion: v1\nkind: Config\n")  # nothing from the user's own config
    return subprocess.run(["kubectl", f"--kubeconfig={config}", f"--cache-dir={folder / 'cache'}",
                           f"--server={server}", "--namespace=default", *args],
                          capture_output=True, text=True, timeout=60)


def _inputs(folder: Path) -> None:
    (folder / "f.txt").write_text("text-file\n")
    (folder / "bin.dat").write_bytes(b"hello\x00\xff")
    (folder / "env.txt").write_text("A=1\n")


def record(case: Case, api: str, recorder: _Recorder, folder: Path) -> dict[str, Any]:
    for manifest in case.setup:
        done = _kubectl(api, ["apply", "--server-side", "-f", str(FIXTURES / "manifests" / manifest)], folder)
        if done.returncode:
            raise RuntimeError(f"{case.name}: applying {manifest} failed: {done.stderr}")
    args = [a.replace("{dir}", str(folder)) for a in case.args]
    kubectl_json = None
    if case.dry_run:
        cut = args.index("--") if "--" in args else len(args)
        dry = _kubectl(api, [*args[:cut], "--dry-run=client", "-o", "json", *args[cut:]], folder)
        if dry.returncode:
            raise RuntimeError(f"{case.name}: dry run failed: {dry.stderr}")
        kubectl_json = json.loads(dry.stdout)
    before = len(recorder.bodies)
    _kubectl(recorder.url, args, folder)  # the server's answer does not matter, only what kubectl sent
    sent = recorder.bodies[before:]  # `auth whoami` retries older versions after a 404: keep the first
    if not sent:
        raise RuntimeError(f"{case.name}: kubectl sent no protobuf request")
    return {"args": list(case.args), "setup": list(case.setup), "body": sent[0].hex(), "json": kubectl_json}


def main(names: list[str]) -> None:
    cases = [c for c in CASES if not names or c.name in names]
    etcd = Etcd()
    etcd.start()
    api = ApiServerProcess(etcd.url)
    try:
        api.start()
        recorder = _Recorder(api.url)
        with tempfile.TemporaryDirectory() as tmp:
            _inputs(Path(tmp))
            for case in cases:
                fixture = record(case, api.url, recorder, Path(tmp))
                (FIXTURES / f"{case.name}.json").write_text(json.dumps(fixture, indent=1, sort_keys=True) + "\n")
                print(f"recorded {case.name}")
        recorder.server.shutdown()
    finally:
        api.stop()
        etcd.stop()


if __name__ == "__main__":
    main(sys.argv[1:])

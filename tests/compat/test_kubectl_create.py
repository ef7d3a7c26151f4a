"""kubectl 1.32's generators against the real API server.

``kubectl create <generator>``, ``create job --from`` and ``debug`` write
through typed clients, which send ``application/vnd.kubernetes.protobuf``.
Each test creates objects that way and reads them back with ``get -o json``;
the equivalence tests also create the same object from kubectl's own JSON
and check the server stored the two identically, defaults included.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest

from apiserver.protobuf.envelope import MAGIC
from apiserver.protobuf.wire import encode_record

pytestmark = pytest.mark.compat

MANIFESTS = Path(__file__).resolve().parent.parent / "apiserver" / "protobuf" / "fixtures" / "manifests"


class Kubectl(Protocol):
    def __call__(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        ...


@pytest.fixture
def kubectl(kubeconfig: str, namespace: str) -> Kubectl:
    def run(*args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(["kubectl", "--kubeconfig", kubeconfig, "-n", namespace, *args], input=input,
                              capture_output=True, text=True, timeout=60,
                              env={**os.environ, "KUBECACHEDIR": os.path.join(os.path.dirname(kubeconfig), "cache")})
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}): {proc.stderr}{proc.stdout}")
        return proc
    return run


def get(kubectl: Kubectl, *what: str) -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(kubectl("get", *what, "-o", "json").stdout)
    return obj


def stored_like(obj: dict[str, Any], name: str) -> str:
    """The stored object as text, without what differs between two creates of the same thing."""
    meta = obj["metadata"]
    uid = meta["uid"]
    for volatile in ("name", "uid", "resourceVersion", "creationTimestamp", "managedFields", "generateName"):
        meta.pop(volatile, None)
    return json.dumps(obj, sort_keys=True).replace(uid, "UID").replace(name, "NAME")


def test_kubectl_sends_protobuf_and_reads_the_json_reply(kubectl: Kubectl, namespace: str) -> None:
    proc = kubectl("create", "configmap", "probe", "--from-literal=a=b", "-v=8")
    assert "Content-Type: application/vnd.kubernetes.protobuf" in proc.stderr
    assert "configmap/probe created" in proc.stdout


def test_create_namespace(kubectl: Kubectl, namespace: str) -> None:
    name = f"{namespace}-x"
    try:
        assert kubectl("create", "namespace", name).stdout.strip() == f"namespace/{name} created"
        ns = get(kubectl, "namespace", name)
        assert ns["status"]["phase"] == "Active"
        assert ns["metadata"]["labels"]["kubernetes.io/metadata.name"] == name
    finally:
        kubectl("delete", "namespace", name, "--wait=false", check=False)


def test_create_configmap_and_secrets(kubectl: Kubectl, tmp_path: Path) -> None:
    (tmp_path / "bin.dat").write_bytes(b"hello\x00\xff")
    (tmp_path / "env.txt").write_text("A=1\nB=two\n")
    kubectl("create", "configmap", "cm", "--from-literal=k1=v1", "--from-literal=empty=",
            f"--from-file=bin={tmp_path / 'bin.dat'}")
    cm = get(kubectl, "configmap", "cm")
    assert cm["data"] == {"k1": "v1", "empty": ""}
    assert cm["binaryData"] == {"bin": base64.b64encode(b"hello\x00\xff").decode()}
    kubectl("create", "configmap", "env", f"--from-env-file={tmp_path / 'env.txt'}", "--save-config")
    env = get(kubectl, "configmap", "env")
    assert env["data"] == {"A": "1", "B": "two"}
    assert "kubectl.kubernetes.io/last-applied-configuration" in env["metadata"]["annotations"]

    assert kubectl("create", "secret", "generic", "s", "--from-literal=a=b").stdout.strip() == "secret/s created"
    secret = get(kubectl, "secret", "s")
    assert secret["data"] == {"a": base64.b64encode(b"b").decode()} and secret["type"] == "Opaque"

    kubectl("create", "secret", "docker-registry", "reg", "--docker-server=reg.example", "--docker-username=u",
            "--docker-password=p")
    reg = get(kubectl, "secret", "reg")
    assert reg["type"] == "kubernetes.io/dockerconfigjson"
    auths = json.loads(base64.b64decode(reg["data"][".dockerconfigjson"]))["auths"]
    assert auths["reg.example"]["auth"] == base64.b64encode(b"u:p").decode()


def test_create_tls_secret(kubectl: Kubectl, tmp_path: Path) -> None:
    key, cert = tmp_path / "tls.key", tmp_path / "tls.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=k8py.test"], check=True, capture_output=True)
    kubectl("create", "secret", "tls", "tls", f"--cert={cert}", f"--key={key}")
    secret = get(kubectl, "secret", "tls")
    assert secret["type"] == "kubernetes.io/tls"
    assert base64.b64decode(secret["data"]["tls.crt"]) == cert.read_bytes()
    assert base64.b64decode(secret["data"]["tls.key"]) == key.read_bytes()


def test_create_deployment(kubectl: Kubectl) -> None:
    out = kubectl("create", "deployment", "web", "--image=k8py/hello:1.0", "--replicas=2", "--port=8080").stdout
    assert out.strip() == "deployment.apps/web created"
    deploy = get(kubectl, "deployment", "web")
    assert deploy["spec"]["replicas"] == 2
    assert deploy["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    assert (container["name"], container["image"]) == ("hello", "k8py/hello:1.0")
    assert container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    assert deploy["spec"]["strategy"]["type"] == "RollingUpdate"  # defaulted as for JSON

    kubectl("create", "deployment", "zero", "--image=x", "--replicas=0", "--", "/bin/sh", "-c", "echo hi")
    zero = get(kubectl, "deployment", "zero")
    assert zero["spec"]["replicas"] == 0  # a pointer zero survives protobuf
    assert zero["spec"]["template"]["spec"]["containers"][0]["command"] == ["/bin/sh", "-c", "echo hi"]


@pytest.mark.parametrize("kind, flags, expected_type", [
    ("clusterip", ["--tcp=80:8080", "--tcp=443:https"], "ClusterIP"),
    ("nodeport", ["--tcp=80:8080", "--node-port=30123"], "NodePort"),
    ("loadbalancer", ["--tcp=80:8080"], "LoadBalancer"),
])
def test_create_service(kubectl: Kubectl, kind: str, flags: list[str], expected_type: str) -> None:
    kubectl("create", "service", kind, "svc", *flags)
    svc = get(kubectl, "service", "svc")
    assert svc["spec"]["type"] == expected_type
    assert svc["spec"]["selector"] == {"app": "svc"}
    first = svc["spec"]["ports"][0]
    assert (first["name"], first["port"], first["targetPort"], first["protocol"]) == ("80-8080", 80, 8080, "TCP")
    if kind == "nodeport":
        assert first["nodePort"] == 30123
    if kind == "clusterip":
        assert svc["spec"]["ports"][1]["targetPort"] == "https"
        assert svc["spec"]["clusterIP"]


def test_create_headless_and_externalname_services(kubectl: Kubectl) -> None:
    kubectl("create", "service", "clusterip", "headless", "--clusterip=None")
    assert get(kubectl, "service", "headless")["spec"]["clusterIP"] == "None"
    kubectl("create", "service", "externalname", "ext", "--external-name=example.com", "--tcp=80")
    ext = get(kubectl, "service", "ext")["spec"]
    assert (ext["type"], ext["externalName"]) == ("ExternalName", "example.com")


def test_create_job_cronjob_and_job_from_cronjob(kubectl: Kubectl) -> None:
    kubectl("create", "job", "once", "--image=x", "--", "cmd", "arg1")
    job = get(kubectl, "job", "once")["spec"]["template"]["spec"]
    assert job["restartPolicy"] == "Never" and job["containers"][0]["command"] == ["cmd", "arg1"]

    assert kubectl("create", "cronjob", "c", "--image=x", "--schedule=*/1 * * * *").stdout.strip() == \
        "cronjob.batch/c created"
    cron = get(kubectl, "cronjob", "c")
    assert cron["spec"]["schedule"] == "*/1 * * * *"
    assert cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"] == "x"

    kubectl("create", "job", "manual", "--from=cronjob/c")
    manual = get(kubectl, "job", "manual")
    owner = manual["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == \
        ("CronJob", "c", cron["metadata"]["uid"], True)
    assert manual["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"


def test_create_ingress(kubectl: Kubectl) -> None:
    kubectl("create", "ingress", "ing", "--class=nginx", "--rule=foo.com/path*=svc1:8080,tls=tsec",
            "--rule=bar.com/exact=svc2:http", "--default-backend=defsvc:80")
    spec = get(kubectl, "ingress", "ing")["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert spec["defaultBackend"] == {"service": {"name": "defsvc", "port": {"number": 80}}}
    assert spec["tls"] == [{"hosts": ["foo.com"], "secretName": "tsec"}]
    assert spec["rules"][0]["http"]["paths"][0] == {
        "path": "/path", "pathType": "Prefix", "backend": {"service": {"name": "svc1", "port": {"number": 8080}}}}
    assert spec["rules"][1]["http"]["paths"][0]["backend"]["service"]["port"] == {"name": "http"}


def test_create_serviceaccount_and_expose_and_run(kubectl: Kubectl) -> None:
    assert kubectl("create", "serviceaccount", "robot").stdout.strip() == "serviceaccount/robot created"
    kubectl("create", "deployment", "web", "--image=k8py/hello:1.0", "--port=8080")
    assert kubectl("expose", "deployment", "web", "--port=80", "--target-port=8080").stdout.strip() == \
        "service/web exposed"
    assert get(kubectl, "service", "web")["spec"]["ports"][0]["targetPort"] == 8080
    kubectl("run", "solo", "--image=x", "--labels=a=b", "--", "sleep", "1")
    assert get(kubectl, "pod", "solo")["metadata"]["labels"] == {"a": "b"}


def test_debug_copy_and_node_pods(kubectl: Kubectl) -> None:
    kubectl("apply", "--server-side", "-f", str(MANIFESTS / "pod-rich.yaml"))
    kubectl("debug", "richpod", "--copy-to=copy", "--image=busybox:1", "--same-node", "--profile=general", "-q")
    copy = get(kubectl, "pod", "copy")["spec"]
    assert copy["nodeName"] == "node-rich"
    assert [c["name"] for c in copy["containers"]][:2] == ["main", "side"]
    original = get(kubectl, "pod", "richpod")["spec"]
    assert [v["name"] for v in copy["volumes"]] == [v["name"] for v in original["volumes"]]
    assert copy["volumes"][:9] == original["volumes"][:9]  # the ephemeral template gains creationTimestamp: null
    assert copy["affinity"] == original["affinity"] and copy["securityContext"] == original["securityContext"]


@pytest.mark.parametrize("args", [
    ("create", "deployment", "{name}", "--image=k8py/hello:1.0", "--replicas=3", "--port=8080"),
    ("create", "service", "nodeport", "{name}", "--tcp=80:8080"),
    ("create", "cronjob", "{name}", "--image=x", "--schedule=*/5 * * * *", "--restart=OnFailure", "--", "c"),
    ("create", "ingress", "{name}", "--rule=foo.com/p*=svc:80,tls=t", "--annotation=a=b"),
    ("create", "secret", "generic", "{name}", "--from-literal=x=y", "--type=my/type"),
    ("create", "job", "{name}", "--from=cronjob/rich"),
])
def test_protobuf_and_json_creates_store_the_same_object(kubectl: Kubectl, args: tuple[str, ...]) -> None:
    """The same generator through protobuf and through kubectl's JSON ends up identical in storage."""
    kubectl("apply", "--server-side", "-f", str(MANIFESTS / "cronjob-rich.yaml"))
    as_protobuf = [a.replace("{name}", "viapb") for a in args]
    as_json = [a.replace("{name}", "viajson") for a in args]
    kubectl(*as_protobuf)
    cut = as_json.index("--") if "--" in as_json else len(as_json)
    rendered = kubectl(*as_json[:cut], "--dry-run=client", "-o", "json", *as_json[cut:]).stdout
    kubectl("create", "-f", "-", input=rendered)
    resource = "service" if "service" in args else args[1]
    first, second = get(kubectl, resource, "viapb"), get(kubectl, resource, "viajson")
    if resource == "service":  # allocated per object
        for svc in (first, second):
            for field in ("clusterIP", "clusterIPs"):
                svc["spec"].pop(field)
            for port in svc["spec"]["ports"]:
                port.pop("nodePort")
    assert stored_like(first, "viapb") == stored_like(second, "viajson")


def test_bad_protobuf_is_a_400_and_unsupported_a_415(apiserver: Any, namespace: str) -> None:
    url = f"{apiserver.url}/api/v1/namespaces/{namespace}/configmaps"
    headers = {"Content-Type": "application/vnd.kubernetes.protobuf", "Accept": "application/json"}
    truncated = httpx.post(url, content=MAGIC + b"\x0a\x7f\x0a", headers=headers)
    assert truncated.status_code == 400
    assert truncated.json()["reason"] == "BadRequest" and "protobuf" in truncated.json()["message"]
    not_magic = httpx.post(url, content=b"\x0a\x02\x0a\x00", headers=headers)
    assert not_magic.status_code == 400
    type_meta = encode_record(1, b"v1") + encode_record(2, b"Node")
    node = httpx.post(f"{apiserver.url}/api/v1/nodes", content=MAGIC + encode_record(1, type_meta), headers=headers)
    assert node.status_code == 415
    assert node.json()["reason"] == "UnsupportedMediaType" and "Node" in node.json()["message"]

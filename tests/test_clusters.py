"""clusters/ and Containerfile: manifests that parse, validate, and match the CLI.

Built-in kinds are validated with ``kubernetes-validate`` against the schemas of
Kubernetes :data:`KUBERNETES_VERSION` (strict: unknown fields fail). Flux's and the
Prometheus operator's kinds have no schema there; their required fields are checked
here. ``kustomize build`` runs where a kustomize (or kubectl) binary is installed, on
the folders that need no network (Kepler's own manifests are a remote reference).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

import kepler_reader as kr
from kepler_reader.cli import build_parser
from kepler_reader.measure_cli import split_command
from kepler_reader.serve import parse_listen

ROOT = Path(__file__).resolve().parent.parent
CLUSTERS = ROOT / "clusters"
KUBERNETES_VERSION = "1.32.0"
KEPLER_RELEASE = "v0.11.4"
IMAGE = "kepler-reader"
# Folders that build without network: everything but Kepler's remote manifests.
LOCAL_BUILDS = (
    "kepler/flux",
    "kepler-reader/base",
    "kepler-reader/kube-rbac-proxy",
    "measure-job",
    "flux",
)
CUSTOM_KINDS = {
    ("source.toolkit.fluxcd.io/v1", "GitRepository"),
    ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
}

Doc = dict[str, Any]


def yaml_files() -> list[Path]:
    return sorted(CLUSTERS.rglob("*.yaml"))


def kustomizations() -> list[Path]:
    return sorted(CLUSTERS.rglob("kustomization.yaml"))


def load(path: Path) -> list[Any]:
    with path.open() as stream:
        return [doc for doc in yaml.safe_load_all(stream) if doc is not None]


def patch_files() -> set[Path]:
    """Files named as patches by some kustomization (partial objects, JSON patches)."""
    found = set()
    for path in kustomizations():
        (config,) = load(path)
        for patch in config.get("patches", []):
            if "path" in patch:
                found.add((path.parent / patch["path"]).resolve())
    return found


def resources() -> Iterator[tuple[Path, Doc]]:
    """Every whole object in clusters/ (not kustomization files or patches)."""
    patches = patch_files()
    for path in yaml_files():
        if path.name == "kustomization.yaml" or path.resolve() in patches:
            continue
        for doc in load(path):
            yield path, doc


def containers(doc: Doc) -> list[Doc]:
    spec = doc.get("spec", {}).get("template", {}).get("spec", {})
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def kepler_reader_args() -> Iterator[tuple[str, list[str]]]:
    """The arguments of every kepler-reader container, patches included."""
    for path, doc in resources():
        for container in containers(doc):
            if container["image"].split(":")[0] == IMAGE:
                yield f"{path.relative_to(ROOT)}:{container['name']}", container["args"]
    for path in sorted(patch_files()):
        for doc in load(path):
            for op in doc if isinstance(doc, list) else []:
                if op["path"].endswith("/args"):
                    yield f"{path.relative_to(ROOT)}:{op['path']}", op["value"]


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(
        a for a in parser._actions if isinstance(a, argparse._SubParsersAction)
    )
    return dict(action.choices)


def parse_cli(args: list[str]) -> argparse.Namespace:
    """Parse a manifest's kepler-reader arguments as main() does; a flag the CLI
    does not know fails the test (argparse exits)."""
    assert args[0] in subcommands(), f"no subcommand {args[0]!r}"
    # As main() does: measure's command starts after its first "--".
    words, command = split_command(args)
    try:
        parsed = build_parser().parse_args(words)
    except SystemExit as error:
        raise AssertionError(f"kepler-reader rejects {args}") from error
    parsed.measure_command = command
    return parsed


def test_every_yaml_file_parses() -> None:
    assert len(yaml_files()) >= 20
    for path in yaml_files():
        assert load(path), path


def test_built_in_kinds_validate_for_the_stated_kubernetes_version() -> None:
    checked = 0
    for path, doc in resources():
        if (doc["apiVersion"], doc["kind"]) in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            raise AssertionError(f"{path}: {error.message}") from error
        checked += 1
    assert checked >= 14


def test_custom_kinds_have_their_required_fields() -> None:
    sources, flux = {}, {}
    for path, doc in resources():
        kind = (doc["apiVersion"], doc["kind"])
        if kind not in CUSTOM_KINDS:
            continue
        spec = doc["spec"]
        assert doc["metadata"]["name"], path
        assert doc["metadata"]["namespace"], path
        if doc["kind"] == "GitRepository":
            assert spec["url"].startswith("https://"), path
            assert spec["interval"], path
            sources[doc["metadata"]["name"]] = spec
        elif doc["kind"] == "Kustomization":
            assert spec["interval"], path
            assert isinstance(spec["prune"], bool), path
            assert spec["sourceRef"]["kind"] == "GitRepository", path
            flux[doc["metadata"]["name"]] = spec
        else:
            assert spec["selector"]["matchLabels"], path
            assert all(e["port"] and e["path"] for e in spec["endpoints"]), path
    assert set(flux) == {"kepler", "kepler-reader", "kepler-reader-measure"}
    for name, spec in flux.items():
        for dependency in spec.get("dependsOn", []):
            assert dependency["name"] in flux, name
        source = spec["sourceRef"]["name"]
        if source == "flux-system":
            # The cluster's own repository: the path is a folder of this one.
            assert (ROOT / spec["path"] / "kustomization.yaml").is_file(), name
        else:
            assert source in sources, name


def test_kustomizations_name_files_that_exist() -> None:
    for path in kustomizations():
        (config,) = load(path)
        entries = [*config.get("resources", [])]
        entries += [p["path"] for p in config.get("patches", []) if "path" in p]
        for entry in entries:
            if "://" in entry:
                continue
            assert (path.parent / entry).exists(), f"{path}: {entry}"


def test_kepler_is_pinned_to_one_release_everywhere() -> None:
    (plain,) = load(CLUSTERS / "kepler/kustomize/kustomization.yaml")
    (remote,) = plain["resources"]
    assert remote.endswith(f"?ref={KEPLER_RELEASE}")
    (tag,) = {i["newTag"] for i in plain["images"]}
    flux = {d["kind"]: d for _, d in resources() if d["metadata"]["name"] == "kepler"}
    assert flux["GitRepository"]["spec"]["ref"] == {"tag": KEPLER_RELEASE}
    (flux_tag,) = {i["newTag"] for i in flux["Kustomization"]["spec"]["images"]}
    assert tag == flux_tag == KEPLER_RELEASE


def test_rbac_grants_exactly_what_is_needed() -> None:
    rbac = {
        (doc["kind"], doc["metadata"]["name"]): doc
        for _, doc in resources()
        if doc["apiVersion"].startswith("rbac.authorization.k8s.io/")
    }
    rules = {key: doc["rules"] for key, doc in rbac.items() if "rules" in doc}
    assert rules == {
        ("ClusterRole", "kepler-reader-metrics"): [
            {"nonResourceURLs": ["/metrics"], "verbs": ["get"]}
        ],
        ("ClusterRole", "kepler-rbac-proxy"): [
            {
                "apiGroups": ["authentication.k8s.io"],
                "resources": ["tokenreviews"],
                "verbs": ["create"],
            },
            {
                "apiGroups": ["authorization.k8s.io"],
                "resources": ["subjectaccessreviews"],
                "verbs": ["create"],
            },
        ],
        ("Role", "kepler-reader-reconcile"): [
            {
                "apiGroups": ["kustomize.toolkit.fluxcd.io"],
                "resources": ["kustomizations"],
                "verbs": ["get", "list", "watch", "patch"],
            }
        ],
    }
    bindings = {
        key: (doc["roleRef"]["kind"], doc["roleRef"]["name"], doc["subjects"])
        for key, doc in rbac.items()
        if "roleRef" in doc
    }

    def account(name: str, namespace: str) -> list[dict[str, str]]:
        return [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]

    assert bindings == {
        ("ClusterRoleBinding", "kepler-reader-metrics"): (
            "ClusterRole",
            "kepler-reader-metrics",
            account("kepler-reader", "kepler-reader"),
        ),
        ("ClusterRoleBinding", "kepler-reader-measure-metrics"): (
            "ClusterRole",
            "kepler-reader-metrics",
            account("kepler-reader-measure", "kepler-reader"),
        ),
        ("ClusterRoleBinding", "kepler-rbac-proxy"): (
            "ClusterRole",
            "kepler-rbac-proxy",
            account("kepler", "kepler"),
        ),
        ("RoleBinding", "kepler-reader-reconcile"): (
            "Role",
            "kepler-reader-reconcile",
            account("kepler-reader-measure", "kepler-reader"),
        ),
    }


def test_every_container_is_locked_down() -> None:
    workloads = [(p, d) for p, d in resources() if d["kind"] in ("DaemonSet", "Job")]
    assert {d["metadata"]["name"] for _, d in workloads} == {
        "kepler-reader",
        "kepler-reader-measure-reconcile",
    }
    patched = load(CLUSTERS / "kepler/kube-rbac-proxy/daemonset-proxy.yaml")
    for path, doc in [*workloads, ("daemonset-proxy.yaml", patched[0])]:
        pod = doc["spec"]["template"]["spec"]
        for container in containers(doc):
            where = f"{path}:{container['name']}"
            context = {**pod.get("securityContext", {}), **container["securityContext"]}
            assert context["runAsNonRoot"] is True, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            limits = container["resources"]
            assert set(limits) == {"requests", "limits"}, where
            assert set(limits["limits"]) == {"cpu", "memory"}, where


def containerfile() -> list[tuple[str, str]]:
    """(instruction, argument) pairs, continuation lines joined."""
    text = (ROOT / "Containerfile").read_text()
    text = re.sub(r"\\\n\s*", " ", text)
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def test_containerfile_installs_the_package_and_runs_as_non_root() -> None:
    steps = containerfile()
    bases = [arg for op, arg in steps if op == "FROM"]
    assert all(re.match(r"docker.io/library/python:3\.11-slim\b", b) for b in bases)
    # Everything the wheel is built from is copied in.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    needed = {
        "pyproject.toml",
        project["project"]["readme"],
        *project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"],
    }
    copied = set()
    for op, arg in steps:
        if op == "COPY" and not arg.startswith("--from"):
            copied.update(arg.split()[:-1])
    assert needed <= copied
    assert all((ROOT / name).exists() for name in copied)
    assert any(
        op == "RUN" and "pip wheel" in arg and arg.endswith(" .") for op, arg in steps
    )
    (user,) = [arg for op, arg in steps if op == "USER"]
    uid, gid = (int(part) for part in user.split(":"))
    assert uid > 0
    assert gid > 0
    (entry,) = [json.loads(arg) for op, arg in steps if op == "ENTRYPOINT"]
    assert entry == list(project["project"]["scripts"])
    env = " ".join(arg for op, arg in steps if op == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env  # nothing written to a read-only root
    (daemonset,) = [d for _, d in resources() if d["kind"] == "DaemonSet"]
    pod = daemonset["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == uid
    assert pod["securityContext"]["runAsGroup"] == gid
    (exposed,) = [int(arg) for op, arg in steps if op == "EXPOSE"]
    (port,) = pod["containers"][0]["ports"]
    assert port["containerPort"] == exposed


def test_image_tag_is_the_package_version() -> None:
    for path in kustomizations():
        (config,) = load(path)
        for image in config.get("images", []):
            if image["name"] == IMAGE:
                assert image["newTag"] == kr.__version__, path


def test_manifest_invocations_parse_with_the_cli() -> None:
    seen = {}
    for where, args in kepler_reader_args():
        seen[where] = args[0]
        if args[0] != "serve":
            continue
        parsed = parse_cli(args)
        assert parsed.urls[0].endswith("/metrics"), where
        assert parsed.node == ["$(NODE_NAME)"], where
    assert sorted(seen.values()) == ["measure", "serve", "serve"]


def test_measure_job_invocation_parses_with_the_cli() -> None:
    (args,) = [a for _, a in kepler_reader_args() if a[0] == "measure"]
    parsed = parse_cli(args)
    assert parsed.namespace == ["flux-system"]
    assert parsed.format == "json"
    assert parsed.measure_command == [
        "flux",
        "reconcile",
        "kustomization",
        "flux-system",
    ]


def test_daemonset_ports_probes_and_service_match_the_cli() -> None:
    objects = {(d["kind"], d["metadata"]["name"]): d for _, d in resources()}
    daemonset = objects["DaemonSet", "kepler-reader"]
    (container,) = daemonset["spec"]["template"]["spec"]["containers"]
    parsed = parse_cli(container["args"])
    host, listen_port = parse_listen(parsed.listen)
    assert host == "0.0.0.0"  # reachable by Prometheus and the kubelet's probes
    (port,) = container["ports"]
    assert port["containerPort"] == listen_port
    assert container["livenessProbe"]["httpGet"] == {
        "path": "/healthz",
        "port": port["name"],
    }
    assert container["readinessProbe"]["httpGet"] == {
        "path": "/readyz",
        "port": port["name"],
    }
    # The pod is not ready before two scrapes could have happened.
    assert container["readinessProbe"]["initialDelaySeconds"] >= parsed.interval
    env = {e["name"]: e for e in container["env"]}
    assert env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"

    service = objects["Service", "kepler-reader"]
    (service_port,) = service["spec"]["ports"]
    assert service_port["targetPort"] == port["name"]
    monitor = objects["ServiceMonitor", "kepler-reader"]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == service_port["name"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["honorLabels"] is True
    assert monitor["spec"]["selector"]["matchLabels"] == service["metadata"]["labels"]

    local = objects["Service", "kepler-local"]
    assert local["spec"]["internalTrafficPolicy"] == "Local"
    (kepler_port,) = local["spec"]["ports"]
    url = parsed.urls[0]
    assert url == (
        f"http://{local['metadata']['name']}.{local['metadata']['namespace']}.svc:"
        f"{kepler_port['port']}/metrics"
    )


def test_rbac_proxy_overlay_reads_through_the_proxy() -> None:
    (ops,) = load(CLUSTERS / "kepler-reader/kube-rbac-proxy/daemonset-https.yaml")
    (args,) = [op["value"] for op in ops if op["path"].endswith("/args")]
    parsed = parse_cli(args)
    (proxy,) = load(CLUSTERS / "kepler/kube-rbac-proxy/daemonset-proxy.yaml")
    (container,) = proxy["spec"]["template"]["spec"]["containers"]
    listen = next(a for a in container["args"] if a.startswith("--secure-listen"))
    assert parsed.urls == [
        f"https://kepler-local.kepler.svc:{listen.rsplit(':', 1)[1]}/metrics"
    ]
    assert "--allow-paths=/metrics" in container["args"]
    assert parsed.bearer_token_file.endswith("serviceaccount/token")
    mounts = {
        m["name"]: m["mountPath"]
        for op in ops
        if op["path"].endswith("/volumeMounts")
        for m in op["value"]
    }
    assert parsed.ca_file == f"{mounts['proxy-ca']}/ca.crt"


def _kustomize() -> list[str]:
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    pytest.skip("no kustomize or kubectl binary installed: kustomize build not run")


@pytest.mark.parametrize("folder", LOCAL_BUILDS)
def test_kustomize_build_is_valid_and_keeps_the_cli_arguments(folder: str) -> None:
    command = _kustomize()
    built = subprocess.run(
        [*command, str(CLUSTERS / folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    docs = [d for d in yaml.safe_load_all(built.stdout) if d]
    assert docs
    for doc in docs:
        if (doc["apiVersion"], doc["kind"]) not in CUSTOM_KINDS:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        for container in containers(doc):
            name, _, tag = container["image"].partition(":")
            assert tag, f"{folder}: {container['name']} has no pinned tag"
            if name == IMAGE:
                assert tag == kr.__version__
                if container["args"][0] == "serve":
                    parse_cli(container["args"])

"""The deployment examples under deploy/, checked by the linters that run here without a container engine
or a cluster: yamllint (every YAML file), kubernetes-validate (the Kubernetes manifests against the API
schemas, strict), check-jsonschema with its vendored compose-spec schema (compose.yaml), hadolint (the
Containerfile) and promtool (both Prometheus configurations). Each check is also shown to fail on a
broken copy. And a real Prometheus (Debian's) scrapes the served web app with a bearer token, as the
examples configure it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from psycopg_pool import ConnectionPool
from yamllint import linter
from yamllint.config import YamlLintConfig

from core.config import load_site
from core.config.auth import AuthConfig
from storage.auth.sessions import create_token
from storage.auth.users import find_user
from tests.fix_auth import add_user
from tests.fix_sites import REPO, free_port

DEPLOY = REPO / "deploy"
K8S = sorted((DEPLOY / "k8s").glob("*.yaml"))
YAML_FILES = sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])
K8S_VERSION = "1.33"  # a version every supported cluster has; strict: unknown fields are errors
LINT = YamlLintConfig("""
extends: default
rules:
  line-length: {max: 130}
  document-start: disable
  comments: {min-spaces-from-content: 1}
  truthy: {check-keys: false}
""")
BIN = Path(sys.executable).parent


def run(*cmd: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=120, check=False)


def lint_problems(text: str) -> list[str]:
    return [f"{p.line}:{p.column} {p.rule} {p.message}" for p in linter.run(text, LINT)
            if p.level == "error"]


def test_there_is_something_to_check() -> None:
    names = {p.relative_to(DEPLOY).as_posix() for p in YAML_FILES}
    assert {"compose.yaml", "site.yaml", "prometheus/prometheus.yml", "k8s/web.yaml", "k8s/worker.yaml",
            "k8s/postgres.yaml", "k8s/grafana.yaml", "k8s/prometheus.yaml", "k8s/site-configmap.yaml"} <= names


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.relative_to(DEPLOY).as_posix())
def test_yaml_files_pass_yamllint(path: Path) -> None:
    assert lint_problems(path.read_text()) == []


def test_yamllint_finds_a_broken_file() -> None:
    broken = (DEPLOY / "k8s" / "web.yaml").read_text().replace("  replicas: 1\n", "  replicas: 1\n  replicas: 2\n")
    assert any("key-duplicates" in p for p in lint_problems(broken))


def k8s_documents() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in K8S:
        for doc in yaml.safe_load_all(path.read_text()):
            yield f"{path.name}:{doc['kind']}/{doc['metadata']['name']}", doc


@pytest.mark.parametrize(("name", "doc"), list(k8s_documents()), ids=lambda v: v if isinstance(v, str) else "")
def test_kubernetes_manifests_are_valid(name: str, doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    if doc["kind"] in ("Deployment", "StatefulSet", "Job"):
        pod = doc["spec"]["template"]["spec"]
        for container in pod.get("initContainers", []) + pod["containers"]:
            assert not container["image"].endswith(":latest") and ":" in container["image"], name
            for env in container.get("env", []):  # secrets come from Secrets, never as values here
                assert "value" not in env or not re.search(r"PASSWORD|TOKEN|DATABASE_URL", env["name"]), (name, env)


@pytest.mark.parametrize("mutation", [
    lambda d: d["spec"].update(replicas="four"),
    lambda d: d["spec"]["template"]["spec"]["containers"][0].update(cpus="1"),
    lambda d: d["spec"].pop("selector"),
])
def test_kubernetes_validate_finds_a_broken_manifest(mutation: Any) -> None:
    worker = yaml.safe_load((DEPLOY / "k8s" / "worker.yaml").read_text())
    mutation(worker)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(worker, K8S_VERSION, strict=True)


def test_workers_ask_for_the_core_they_use() -> None:
    worker = yaml.safe_load((DEPLOY / "k8s" / "worker.yaml").read_text())
    (container,) = worker["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["requests"]["cpu"] == container["resources"]["limits"]["cpu"] == "1"
    site = yaml.safe_load((DEPLOY / "site.yaml").read_text())
    assert site["detector"]["threads"] == 1  # one worker per core
    assert {"name": "metrics", "containerPort": site["metrics"]["worker_port"]} in container["ports"]


def check_compose(path: Path) -> subprocess.CompletedProcess[str]:
    return run(BIN / "check-jsonschema", "--builtin-schema", "vendor.compose-spec", path)


def test_compose_file_is_valid_against_the_compose_spec() -> None:
    result = check_compose(DEPLOY / "compose.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    declared = set(compose["secrets"])
    for name, service in compose["services"].items():
        used = {s if isinstance(s, str) else s["source"] for s in service.get("secrets", [])}
        assert used <= declared, name
        assert not str(service.get("image", "")).endswith(":latest"), name
    assert all(set(secret) == {"file"} for secret in compose["secrets"].values())  # files, never values


@pytest.mark.parametrize(("mutation", "named"), [
    (lambda c: c["services"]["web"].update(restarts="always"), "restarts"),
    (lambda c: c["services"]["web"]["depends_on"]["migrate"].update(condition="when_ready"), "when_ready"),
    (lambda c: c["secrets"]["database_url"].update(path="./secrets/database_url"), "path"),
])
def test_check_jsonschema_finds_a_broken_compose_file(mutation: Any, named: str, tmp_path: Path) -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    mutation(compose)
    broken = tmp_path / "compose.yaml"
    broken.write_text(yaml.safe_dump(compose))
    result = check_compose(broken)
    assert result.returncode != 0 and named in result.stdout + result.stderr


def test_containerfile_passes_hadolint(tmp_path: Path) -> None:
    containerfile = DEPLOY / "Containerfile"
    result = run(BIN / "hadolint", "--no-color", containerfile)
    assert result.returncode == 0, result.stdout + result.stderr
    text = containerfile.read_text()
    assert re.search(r"^FROM \S*debian:12", text, re.M) and "hallwatch models prepare" in text
    assert re.search(r"^USER 10001", text, re.M)  # not root
    careless = tmp_path / "Containerfile"
    careless.write_text("FROM debian:latest\nRUN apt-get update && apt-get install -y python3\n")
    assert run(BIN / "hadolint", "--no-color", careless).returncode != 0


def promtool_check(config: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """promtool checks that the token file exists: point the configuration at one of the test's."""
    token = tmp_path / "token"
    token.write_text("not-a-real-token\n")
    text = re.sub(r"credentials_file: \S+", f"credentials_file: {token}", config)
    path = tmp_path / "prometheus.yml"
    path.write_text(text)
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: apt-get install prometheus (scripts/bootstrap.sh test does)"
    return run(promtool, "check", "config", path)


def prometheus_configs() -> dict[str, str]:
    configmap = next(d for _, d in k8s_documents() if d["kind"] == "ConfigMap" and "prometheus.yml" in d["data"])
    return {"compose": (DEPLOY / "prometheus" / "prometheus.yml").read_text(),
            "kubernetes": configmap["data"]["prometheus.yml"]}


def without_kubernetes_sd(config: str) -> str:
    """Debian's Prometheus is built without Kubernetes service discovery: promtool there rejects the
    `kubernetes_sd_configs` key itself. Checked here by hand, and replaced by a static target for promtool,
    which still checks the rest (the relabelling among it)."""
    parsed = yaml.safe_load(config)
    for job in parsed["scrape_configs"]:
        sd = job.pop("kubernetes_sd_configs", None)
        if sd is not None:
            assert sd == [{"role": "pod", "namespaces": {"names": ["hallwatch"]}}]
            job["static_configs"] = [{"targets": ["worker:9108"]}]
    return yaml.safe_dump(parsed)


@pytest.mark.parametrize("which", ["compose", "kubernetes"])
def test_prometheus_configurations_pass_promtool(which: str, tmp_path: Path) -> None:
    config = without_kubernetes_sd(prometheus_configs()[which])
    result = promtool_check(config, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    broken = yaml.safe_load(config)
    broken["scrape_configs"][0]["bearer_token"] = "x"  # beside `authorization`: Prometheus refuses both
    assert promtool_check(yaml.safe_dump(broken), tmp_path).returncode != 0


def test_the_site_file_is_a_valid_site_and_the_configmap_carries_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAM_PASSWORD", "from-a-secret")  # as the containers get it
    site = load_site(DEPLOY / "site.yaml")
    assert site.metrics.worker_port == 9108 and site.detector.threads == 1
    configmap = yaml.safe_load((DEPLOY / "k8s" / "site-configmap.yaml").read_text())
    assert configmap["data"]["site.yaml"] == (DEPLOY / "site.yaml").read_text()


# -- a real Prometheus scrapes the web app as the examples tell it to -------------------------------------

def prometheus_api(base: str, path: str, **params: str) -> Any:
    url = f"{base}/api/v1/{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())["data"]


def test_prometheus_scrapes_the_web_app_with_a_token(served: str, pool: ConnectionPool, tmp_path: Path) -> None:
    add_user(pool, "prometheus", "center_operator", "province")
    with pool.connection() as conn:
        user = find_user(conn, name="prometheus")
        assert user is not None
        token = create_token(conn, user=user, label="prometheus", config=AuthConfig(), days=1)
    (tmp_path / "token").write_text(token + "\n")
    (tmp_path / "wrong").write_text("not-a-token\n")
    target = served.removeprefix("http://")
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    web = next(job for job in config["scrape_configs"] if job["job_name"] == "hallwatch-web")
    web["static_configs"] = [{"targets": [target]}]
    web["authorization"]["credentials_file"] = str(tmp_path / "token")
    stranger = {**web, "job_name": "stranger", "authorization": {"type": "Bearer",
                                                                  "credentials_file": str(tmp_path / "wrong")}}
    config["scrape_configs"] = [web, stranger]
    config["global"] = {"scrape_interval": "1s", "scrape_timeout": "1s"}
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    prometheus = shutil.which("prometheus")
    assert prometheus, "prometheus is missing: apt-get install prometheus (scripts/bootstrap.sh test does)"
    proc = subprocess.Popen([prometheus, f"--config.file={tmp_path / 'prometheus.yml'}",
                             f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, "prometheus exited"
            try:
                targets = {t["labels"]["job"]: t for t in prometheus_api(base, "targets")["activeTargets"]}
                if {"hallwatch-web", "stranger"} <= targets.keys() and \
                        all(t["health"] != "unknown" for t in targets.values()):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "no scrape within 60 s"
            time.sleep(0.2)
        assert targets["hallwatch-web"]["health"] == "up", targets["hallwatch-web"]
        assert targets["stranger"]["health"] == "down" and "401" in targets["stranger"]["lastError"]
        result = prometheus_api(base, "query", query='hallwatch_cameras{job="hallwatch-web"}')["result"]
        assert {r["metric"]["state"] for r in result} >= {"live", "no_data"}
    finally:
        proc.terminate()
        proc.wait(15)

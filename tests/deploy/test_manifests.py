"""Static checks of deploy/: Docker cannot run here, so the manifests are validated as data.

Images are pinned, every EVALSTREAM_* variable is a real setting, the evaluator TOML they
carry builds, the dashboard queries only metrics the workers export, the image runs as a
non-root user and holds no secrets.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML is needed (dev extra `pyyaml`)")

from evaluators import build_evaluators, discover  # noqa: E402
from evaluators.config import parse_config  # noqa: E402
from pipeline.settings import Settings  # noqa: E402

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S = DEPLOY / "k8s"
METRICS = {
    "evalstream_messages_consumed_total",
    "evalstream_traces_scored_total",
    "evalstream_dead_letters_total",
    "evalstream_evaluator_latency_seconds",
    "evalstream_evaluator_errors_total",
    "evalstream_sink_flush_seconds",
    "evalstream_consumer_lag",
    "evalstream_receiver_requests_total",
    "evalstream_receiver_spans_total",
}
HISTOGRAMS = {"evalstream_evaluator_latency_seconds", "evalstream_sink_flush_seconds"}
# Settings the deploy files rely on before pipeline/settings/ has them (metrics endpoint).
PENDING_SETTINGS: set[str] = set()


def load_all(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def compose() -> dict:
    return load_all(DEPLOY / "compose.yaml")[0]


def k8s_docs() -> list[dict]:
    manifests = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
    return [doc for path in manifests for doc in load_all(path)]


def images() -> list[str]:
    found = [svc["image"] for svc in compose()["services"].values() if "image" in svc]
    found += [
        c["image"]
        for doc in k8s_docs()
        if doc.get("kind") == "Deployment"
        for c in doc["spec"]["template"]["spec"]["containers"]
    ]
    return found


def test_images_are_pinned():
    assert "apache/kafka:3.9.1" in images()
    for image in images():
        name, _, tag = image.rpartition(":")
        assert name and tag and tag != "latest" and "/" not in tag, image


def test_compose_services():
    services = compose()["services"]
    assert {"kafka", "worker", "receiver", "prometheus", "grafana"} <= set(services)
    kafka = services["kafka"]["environment"]
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller"
    for key in ("KAFKA_NODE_ID", "KAFKA_CONTROLLER_QUORUM_VOTERS", "KAFKA_LISTENERS",
                "KAFKA_ADVERTISED_LISTENERS", "KAFKA_CONTROLLER_LISTENER_NAMES",
                "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"):  # fmt: skip
        assert key in kafka
    worker = services["worker"]
    assert worker["deploy"]["replicas"] >= 1 and "container_name" not in worker
    assert "ports" not in worker  # replicas cannot share a host port
    assert worker["environment"]["EVALSTREAM_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert services["receiver"]["command"] == ["receiver", "--host", "0.0.0.0"]
    grafana_mounts = " ".join(services["grafana"]["volumes"])
    assert "./grafana/provisioning:" in grafana_mounts and "./grafana/dashboards:" in grafana_mounts


def env_names() -> set[str]:
    text = "\n".join(p.read_text(encoding="utf-8") for p in [DEPLOY / "compose.yaml",
                                                             DEPLOY / "Dockerfile",
                                                             *K8S.glob("*.yaml")])  # fmt: skip
    return set(re.findall(r"\bEVALSTREAM_([A-Z0-9]+(?:_[A-Z0-9]+)*)\b(?!_)", text))


def test_every_evalstream_variable_is_a_setting():
    known = set(Settings.model_fields) | PENDING_SETTINGS
    unknown = {name for name in env_names() if name.lower() not in known}
    assert not unknown, f"not in pipeline.settings.Settings: {sorted(unknown)}"
    assert {"BOOTSTRAP_SERVERS", "CONFIG", "METRICS_PORT"} <= env_names()


def evaluator_tomls() -> dict[str, str]:
    config_maps = {d["metadata"]["name"]: d for d in k8s_docs() if d.get("kind") == "ConfigMap"}
    return {
        "compose": compose()["configs"]["evaluators"]["content"],
        "k8s": config_maps["evalstream-evaluators"]["data"]["evalstream.toml"],
    }


@pytest.mark.parametrize("where", ["compose", "k8s"])
def test_shipped_evaluator_config_builds(where):
    import tomllib

    config = parse_config(tomllib.loads(evaluator_tomls()[where]), origin=where)
    assert len(build_evaluators(config, discover())) >= 4


def test_prometheus_scrapes_worker_and_receiver_metrics():
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for service in ("worker", "receiver"):
        job = jobs[f"evalstream-{service}"]
        assert job.get("metrics_path", "/metrics") == "/metrics"
        sd = job["dns_sd_configs"][0]
        assert sd["names"] == [service] and sd["port"] == 9464


def test_k8s_manifests():
    docs = k8s_docs()
    for doc in docs:
        assert doc.get("apiVersion") and doc.get("kind") and doc["metadata"].get("name"), doc
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for expected in [("Deployment", "evalstream-worker"), ("Deployment", "evalstream-receiver"),
                     ("Service", "evalstream-receiver"), ("Secret", "evalstream-kafka-sasl"),
                     ("HorizontalPodAutoscaler", "evalstream-worker")]:  # fmt: skip
        assert expected in kinds
    worker = next(d for d in docs if d["metadata"]["name"] == "evalstream-worker"
                  and d["kind"] == "Deployment")  # fmt: skip
    pod = worker["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    container = pod["containers"][0]
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/metrics"
    text = (K8S / "worker-deployment.yaml").read_text(encoding="utf-8")
    assert re.search(r"replicas <= partitions", text), "say why replicas are bounded"


def test_kustomization_lists_existing_files():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    for resource in kustomization["resources"]:
        assert (K8S / resource).is_file(), resource
    commented = re.findall(r"#\s*-\s*(\S+\.yaml)", (K8S / "kustomization.yaml").read_text())
    assert all((K8S / name).is_file() for name in commented)


def test_secret_example_holds_only_placeholders():
    secret = next(d for d in k8s_docs() if d["kind"] == "Secret")
    assert secret["stringData"]["EVALSTREAM_SASL_PASSWORD"] == "change-me"


def dashboard() -> dict:
    return json.loads((DEPLOY / "grafana/dashboards/evalstream.json").read_text(encoding="utf-8"))


def test_dashboard_uses_only_exported_metrics():
    exprs = [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]
    used = set()
    for expr in exprs:
        for name in re.findall(r"\bevalstream_[a-z_]+", expr):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            assert base in METRICS, f"unknown metric {name} in {expr}"
            if base != name:
                assert base in HISTOGRAMS, f"{name}: {base} is not a histogram"
            used.add(base)
    assert used == METRICS, f"not on the dashboard: {sorted(METRICS - used)}"


def test_grafana_provisioning_points_at_the_dashboard():
    datasource = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/prometheus.yaml").read_text()
    )["datasources"][0]
    uids = {t["datasource"]["uid"] for p in dashboard()["panels"] for t in p["targets"]}
    assert uids == {datasource["uid"]}
    provider = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/dashboards/evalstream.yaml").read_text()
    )["providers"][0]
    mounts = compose()["services"]["grafana"]["volumes"]
    assert any(m.endswith(":" + provider["options"]["path"] + ":ro") for m in mounts)


def test_dockerfile():
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    instructions = [line for line in text.splitlines() if line and not line.startswith("#")]
    froms = [line for line in instructions if line.startswith("FROM ")]
    assert froms and all(line.split()[1] == "python:3.11-slim" for line in froms)
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert 'ENTRYPOINT ["evalstream"]' in instructions
    assert 'CMD ["worker"]' in instructions
    secrets = re.compile(r"(PASSWORD|TOKEN|SECRET|API_KEY|AKIA)[A-Z_]*\s*=", re.I)
    assert not secrets.search("\n".join(instructions)), "no secrets in the image"


# Real validators, offline: kubernetes-validate ships the Kubernetes OpenAPI schemas per
# release; the compose-spec JSON Schema is vendored in tests/deploy/compose-spec/ (Apache-2.0,
# from github.com/compose-spec/compose-spec schema/compose-spec.json, commit 170098ba).
K8S_VERSIONS = ("1.30.0", "1.33.0")
COMPOSE_SCHEMA = Path(__file__).parent / "compose-spec" / "compose-spec.json"


def api_docs() -> list[tuple[str, dict]]:
    """Every Kubernetes object in deploy/k8s (Kustomization is kustomize's, not the API's)."""
    return [
        (path.name, doc)
        for path in sorted(K8S.glob("*.yaml"))
        for doc in load_all(path)
        if doc.get("kind") != "Kustomization"
    ]


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_k8s_manifests_pass_the_kubernetes_schemas(version):
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    docs = api_docs()
    assert {doc["kind"] for _, doc in docs} >= {"Deployment", "HorizontalPodAutoscaler"}
    for name, doc in docs:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{name} {doc['kind']}: {exc.message} at {list(exc.path)}")


def test_the_kubernetes_validator_rejects_a_broken_manifest():
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    worker = next(d for _, d in api_docs() if d["kind"] == "Deployment")
    broken = json.loads(json.dumps(worker))
    broken["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSIONS[-1], strict=True)
    unknown = json.loads(json.dumps(worker))
    unknown["spec"]["template"]["spec"]["containers"][0]["resource"] = {}  # typo: strict
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(unknown, K8S_VERSIONS[-1], strict=True)


def compose_validator():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def test_compose_file_passes_the_compose_spec_schema():
    errors = sorted(compose_validator().iter_errors(compose()), key=str)
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def test_the_compose_schema_rejects_a_broken_file():
    broken = json.loads(json.dumps(compose()))
    broken["services"]["kafka"]["ports"] = {"host": 29092}  # must be a list
    broken["services"]["kafka"]["healthcheck"]["retires"] = 3  # typo
    errors = {tuple(e.path) for e in compose_validator().iter_errors(broken)}
    assert errors == {("services", "kafka", "ports"), ("services", "kafka", "healthcheck")}


def test_hpa_scales_the_worker_on_the_lag_gauge_the_worker_exports():
    from pipeline import prometheus

    hpa = next(d for _, d in api_docs() if d["kind"] == "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "evalstream-worker"
    (metric,) = hpa["spec"]["metrics"]
    name = metric["external"]["metric"]["name"]
    assert name == prometheus.CONSUMER_LAG._name  # the gauge of pipeline/prometheus.py
    env = next(d for _, d in api_docs() if d["metadata"]["name"] == "evalstream-env")["data"]
    assert metric["external"]["metric"]["selector"]["matchLabels"] == {
        "topic": env["EVALSTREAM_INPUT_TOPIC"]
    }
    assert hpa["spec"]["maxReplicas"] <= int(env["EVALSTREAM_TOPIC_PARTITIONS"])
    rules = next(d for _, d in api_docs() if d["metadata"]["name"].endswith("adapter-rules"))
    (rule,) = yaml.safe_load(rules["data"]["config.yaml"])["externalRules"]
    assert rule["name"]["as"] == name and name in rule["seriesQuery"]
    assert rule["metricsQuery"].startswith("sum by (topic)")

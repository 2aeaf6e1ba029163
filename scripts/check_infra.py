#!/usr/bin/env python3
"""Checks the deployment files in infra/ (issue 18) for real, in well under a minute.

1. Kubernetes: renders both Kustomize overlays (infra/k8s/overlays/gpu and /cpu) with
   `kubectl kustomize` and validates every object against the Kubernetes JSON schemas shipped in
   the `kubernetes-validate` package (strict: unknown fields are errors) for Kubernetes 1.32 and
   1.37; then checks how the objects fit together (probes on the API port, Service, HPA and PDB
   selecting the API pods, ConfigMaps and Secret keys that exist, the NetworkPolicy letting only
   the API and the migration Job reach PostgreSQL, the GPU and CPU profiles, the pre-rollout set
   of infra/k8s/rollout.sh) and runs rollout.sh against a stand-in kubectl.
2. Compose: validates infra/compose.yaml (with the values of infra/env.example interpolated, alone
   and merged with compose.gpu.yaml) against the Compose Specification JSON schema that ships in
   the `docker-compose` 1.29.2 wheel on PyPI (compose/config/compose_spec.json; fetched once with
   pip into .venv/cache, sha256-pinned), then its structure: dependencies and their conditions,
   healthchecks, mounted files, networks, the proxy, Prometheus and Grafana files, and the
   dashboard's metric names and labels against those the service registers (api/src).
3. Every APP_ variable: collects what each binary gets (Dockerfile ENV of its image, then compose
   `environment`, or the ConfigMaps, Secrets and fields of the rendered pods) and starts the real
   `target/debug/backend` (`migrate`, `serve`) and `target/debug/generator` with exactly those
   variables, from an empty working folder and without ORT_DYLIB_PATH, so no default can stand in
   for a missing key. Values are rewritten only where they name hosts or paths inside the
   container: PostgreSQL -> a fresh database on $TEST_POSTGRES_URL (dropped after), Redis ->
   $TEST_REDIS_URL with a unique APP_REDIS_PREFIX (its keys deleted after), S3 -> a moto_server on
   a free loopback port with the bucket created, APP_LISTEN -> a free loopback port, the OTLP
   collector -> a loopback port nobody listens on, SMTP -> a
   loopback address, image paths -> the repository's files the Dockerfile copies, volume paths ->
   temporary folders (Secret files and values, which the repository never holds, are generated
   in the right form). Each must be accepted: migrate exits 0, the API answers /readyz with 200,
   the generator logs "worker started"; then SIGTERM must end each with exit code 0. A negative
   control (a misspelt APP_REDIS_UR) must make both binaries exit with code 2, so the check cannot
   pass vacuously (a misspelt key makes a binary exit 2 at once).

Run: .venv/bin/python scripts/check_infra.py (scripts/test.sh does, after building the binaries).
Needs: kubectl, PostgreSQL and Redis (scripts/services.sh), .venv from scripts/setup.sh
(kubernetes-validate, jsonschema, PyYAML, moto), target/debug/{backend,generator}.
Exits 1 with the failures listed when anything is wrong.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
K8S = INFRA / "k8s"
OVERLAYS = ["gpu", "cpu"]
# The Kubernetes versions the manifests are validated for: the kubectl here, and the newest
# schemas kubernetes-validate ships.
K8S_VERSIONS = ["1.32.0", "1.37.0"]
# The Compose Specification schema, as shipped inside this wheel (pinned by hash).
COMPOSE_WHEEL = "docker_compose-1.29.2-py2.py3-none-any.whl"
COMPOSE_WHEEL_SHA256 = "8d5589373b35c8d3b1c8c1182c6e4a4ff14bffa3dd0b605fcd08f73c94cef809"
COMPOSE_SCHEMA_MEMBER = "compose/config/compose_spec.json"
BACKEND = ROOT / "target/debug/backend"
GENERATOR = ROOT / "target/debug/generator"
MOTO = ROOT / ".venv/bin/moto_server"
START_LIMIT = 60.0
STOP_LIMIT = 30.0

failures: list[str] = []
notes: list[str] = []


def fail(message: str) -> None:
    failures.append(message)
    print(f"  FAIL {message}", flush=True)


def but(found: list) -> str:
    """The offending items, for the end of a check's message."""
    return f": not {', '.join(map(str, found))}" if found else ""


def ok(message: str) -> None:
    print(f"  ok   {message}", flush=True)


def expect(condition: bool, message: str) -> bool:
    if condition:
        ok(message)
    else:
        fail(message)
    return condition


# ---------------------------------------------------------------------------------------------
# Dockerfiles: the final stage's ENV and what it copies where.


@dataclass
class Image:
    dockerfile: Path
    env: dict[str, str]
    # (path in the image, path in the repository) for what the final stage copies.
    copies: list[tuple[str, Path]]
    binary: str


def dockerfile_lines(path: Path) -> list[str]:
    lines, current = [], ""
    for raw in path.read_text().splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not current):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        if current.strip():
            lines.append(current.strip())
        current = ""
    return lines


def wheel_dir(name: str) -> Path:
    """A folder of the .venv that holds what a wheel-stage output came from."""
    if name == "ort":
        found = glob.glob(str(ROOT / ".venv/lib/python3*/site-packages/onnxruntime/capi"))
        return Path(found[0]) if found else ROOT / ".venv/ort"
    return ROOT / ".venv" / name  # /out/models -> .venv/models (scripts/setup.sh's links)


def parse_image(path: Path) -> Image:
    lines = dockerfile_lines(path)
    last_from = max(i for i, line in enumerate(lines) if line.upper().startswith("FROM "))
    env: dict[str, str] = {}
    copies: list[tuple[str, Path]] = []
    binary = ""
    for line in lines[last_from + 1 :]:
        word, _, rest = line.partition(" ")
        if word.upper() == "ENV":
            for item in shlex.split(rest):
                key, _, value = item.partition("=")
                env[key] = value
        elif word.upper() == "COPY":
            args = shlex.split(rest)
            origin = next((a.split("=", 1)[1] for a in args if a.startswith("--from=")), None)
            args = [a for a in args if not a.startswith("--")]
            *sources, dest = args
            for src in sources:
                if origin is None:
                    local = ROOT / src
                elif origin == "wheels" and src.startswith("/out/"):
                    top, _, below = src[len("/out/") :].partition("/")
                    local = wheel_dir(top) / below
                else:
                    continue  # the binaries from the build stage
                target = dest
                if dest.endswith("/") and not src.endswith("/"):
                    target = dest + Path(src).name
                copies.append((target.rstrip("/") if target != "/" else target, local))
        elif word.upper() == "ENTRYPOINT":
            binary = Path(json.loads(rest)[0]).name
    return Image(path, env, copies, binary)


def image_for(name: str) -> Image:
    """The Dockerfile an image name is built from (compose tags and registry names alike)."""
    base = name.rsplit("/", 1)[-1].split(":")[0]
    path = INFRA / "docker" / f"{base}.Dockerfile"
    if not path.exists():
        raise KeyError(f"no infra/docker/{base}.Dockerfile for image {name}")
    return parse_image(path)


# ---------------------------------------------------------------------------------------------
# What a binary is started with.


@dataclass
class Launch:
    origin: str  # e.g. "compose api1, api2"
    binary: str  # backend | generator
    args: list[str]
    env: dict[str, str]  # APP_ variables as the deployment gives them
    image: Image
    # mount point in the container -> (kind, detail): ("dir", key) a temporary folder shared by
    # launches with the same key; ("secret", {file name: generator key}) generated files.
    mounts: dict[str, tuple] = field(default_factory=dict)
    secret_env: dict[str, str] = field(default_factory=dict)  # APP_ key -> "secret/key"

    def signature(self) -> str:
        env = {k: ("<name>" if k == "APP_WORKER_NAME" else v) for k, v in self.env.items()}
        return json.dumps([self.binary, self.args, env, self.secret_env, sorted(self.mounts)], sort_keys=True)


# ---------------------------------------------------------------------------------------------
# 1. Kubernetes


def render(overlay: str) -> list[dict]:
    kubectl = shutil.which("kubectl")
    if not kubectl:
        raise RuntimeError("kubectl is not on PATH (it renders the Kustomize overlays)")
    out = subprocess.run(
        [kubectl, "kustomize", str(K8S / "overlays" / overlay)], capture_output=True, text=True, timeout=60
    )
    if out.returncode != 0:
        raise RuntimeError(f"kubectl kustomize overlays/{overlay}: {out.stderr.strip()}")
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def env_example_keys(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip().strip('"').strip("'")
    return values


def documented_secrets() -> dict[str, set[str]]:
    """Secret name -> keys, from infra/k8s/secrets (the *.env.example files and the README table)."""
    known: dict[str, set[str]] = {}
    for example in (K8S / "secrets").glob("*.env.example"):
        name = "soravibe-" + example.name[: -len(".env.example")]
        known.setdefault(name, set()).update(env_example_keys(example))
    readme = (K8S / "secrets" / "README.md").read_text()
    secret = None
    for row in re.findall(r"^\|(.+)\|\s*$", readme, re.M):
        cells = [c.strip() for c in row.split("|")]
        if cells[0].startswith("`"):
            secret = cells[0].strip("`")
        if secret and len(cells) > 1:
            for key in re.findall(r"`([^`]+)`", cells[1]):
                known.setdefault(secret, set()).add(key)
    return known


def secret_config_keys() -> set[str]:
    """The APP_ keys whose values the configuration holds as secrets (`Secret<…>` fields)."""
    keys, rename = set(), None
    for line in (ROOT / "config/src/sections.rs").read_text().splitlines():
        line = line.strip()
        m = re.match(r'#\[serde\(.*rename = "([a-z0-9_]+)"', line)
        if m:
            rename = m.group(1)
            continue
        m = re.match(r"pub (\w+): (.*);?,?$", line)
        if m:
            if "Secret<" in m.group(2):
                keys.add("APP_" + (rename or m.group(1)).upper())
            rename = None
        elif not line.startswith(("///", "#[")):
            rename = None
    return keys


def pod_spec(obj: dict) -> dict | None:
    if obj["kind"] in ("Deployment", "Job"):
        return obj["spec"]["template"]["spec"]
    return None


def check_kubernetes() -> list[Launch]:
    print("Kubernetes (kubectl kustomize + kubernetes-validate, strict)", flush=True)
    launches: list[Launch] = []
    secrets_known = documented_secrets()
    for overlay in OVERLAYS:
        try:
            objects = render(overlay)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            fail(str(e))
            continue
        kinds = sorted({o["kind"] for o in objects})
        ok(f"overlays/{overlay} renders: {len(objects)} objects ({', '.join(kinds)})")
        for version in K8S_VERSIONS:
            bad = []
            for obj in objects:
                try:
                    kubernetes_validate.validate(obj, version, strict=True)
                except kubernetes_validate.ValidationError as e:
                    bad.append(f"{obj['kind']}/{obj['metadata']['name']}: {e.message} at {list(e.path)}")
                except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError) as e:
                    bad.append(f"{obj['kind']}/{obj['metadata']['name']}: {getattr(e, 'message', e)}")
            expect(
                not bad,
                f"overlays/{overlay}: every object valid for Kubernetes {version}"
                + "".join(f"\n         {b}" for b in bad),
            )
        launches += check_overlay(overlay, objects, secrets_known)
    check_rollout_script()
    return launches


def by_kind(objects: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def check_overlay(overlay: str, objects: list[dict], secrets_known: dict[str, set[str]]) -> list[Launch]:
    where = f"overlays/{overlay}"
    deployments = by_kind(objects, "Deployment")
    jobs = by_kind(objects, "Job")
    config_maps = by_kind(objects, "ConfigMap")
    api = deployments.get("soravibe-api")
    gen = deployments.get("soravibe-generator")
    job = jobs.get("soravibe-migrate")
    if not (api and gen and job):
        fail(f"{where}: expected Deployments soravibe-api, soravibe-generator and Job soravibe-migrate")
        return []

    # The API: probes, port, Service, HPA, PDB.
    api_pod = api["spec"]["template"]
    container = api_pod["spec"]["containers"][0]
    ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    probe = lambda name: container.get(name, {}).get("httpGet", {})  # noqa: E731
    expect(probe("readinessProbe").get("path") == "/readyz", f"{where}: API readiness probe is GET /readyz")
    expect(probe("livenessProbe").get("path") == "/healthz", f"{where}: API liveness probe is GET /healthz")
    for name in ("readinessProbe", "livenessProbe", "startupProbe"):
        port = probe(name).get("port")
        if port is not None and port not in ports and port not in ports.values():
            fail(f"{where}: API {name} port {port} is not a container port")
    services = [
        s
        for s in by_kind(objects, "Service").values()
        if selects({"matchLabels": s["spec"]["selector"]}, api_pod["metadata"]["labels"])
    ]
    expect(
        bool(services)
        and all(
            p["targetPort"] in ports or p["targetPort"] in ports.values() for s in services for p in s["spec"]["ports"]
        ),
        f"{where}: a Service selects the API pods on their HTTP port",
    )
    hpas = [
        h
        for h in by_kind(objects, "HorizontalPodAutoscaler").values()
        if h["spec"]["scaleTargetRef"]["name"] == "soravibe-api"
    ]
    expect(
        bool(hpas)
        and hpas[0]["apiVersion"] == "autoscaling/v2"
        and container.get("resources", {}).get("requests", {}).get("cpu"),
        f"{where}: an autoscaling/v2 HPA scales the API (which requests CPU)",
    )
    pdbs = [
        p
        for p in by_kind(objects, "PodDisruptionBudget").values()
        if selects(p["spec"]["selector"], api_pod["metadata"]["labels"])
    ]
    expect(
        bool(pdbs) and pdbs[0]["apiVersion"] == "policy/v1",
        f"{where}: a policy/v1 PodDisruptionBudget covers the API pods",
    )

    # Only the API and the migration Job reach PostgreSQL.
    policies = by_kind(objects, "NetworkPolicy").values()
    allowed = [
        peer.get("podSelector", {})
        for p in policies
        for rule in p["spec"].get("ingress", [])
        for peer in rule.get("from", [])
        if any(port.get("port") == 5432 for port in rule.get("ports", []))
    ]
    reach = {
        name: any(selects(s, o["spec"]["template"]["metadata"].get("labels", {})) for s in allowed)
        for name, o in [("api", api), ("migrate", job), ("generator", gen)]
    }
    expect(
        bool(allowed) and reach == {"api": True, "migrate": True, "generator": False},
        f"{where}: the NetworkPolicy lets the API and the migration Job, not the generators, reach PostgreSQL on 5432 ({reach})",
    )

    # The pre-rollout set that rollout.sh applies before the rest.
    pre = [o for o in objects if o["metadata"].get("labels", {}).get("soravibe.io/phase") == "pre-rollout"]
    pre_names = {(o["kind"], o["metadata"]["name"]) for o in pre}
    job_maps = {
        e["configMapRef"]["name"] for e in pod_spec(job)["containers"][0].get("envFrom", []) if "configMapRef" in e
    }
    expect(
        ("Job", "soravibe-migrate") in pre_names
        and all(("ConfigMap", m) in pre_names for m in job_maps)
        and ("Namespace", "soravibe") in pre_names
        and ("ServiceAccount", "soravibe") in pre_names
        and not any(k in ("Deployment", "Service", "HorizontalPodAutoscaler") for k, _ in pre_names),
        f"{where}: the pre-rollout set (migration Job, its ConfigMaps, namespace, service account) holds no Deployment",
    )

    # The hardware profile.
    gen_container = gen["spec"]["template"]["spec"]["containers"][0]
    gen_env = container_env(gen_container, config_maps)[0]
    gpus = gen_container.get("resources", {}).get("requests", {}).get("nvidia.com/gpu")
    if overlay == "gpu":
        expect(
            str(gpus) == "1"
            and "generator-cuda" in gen_container["image"]
            and gen_env.get("APP_INFERENCE_DEVICE") == "cuda",
            f"{where}: generators request nvidia.com/gpu 1, run the CUDA image with APP_INFERENCE_DEVICE=cuda",
        )
    else:
        limits = gen_container.get("resources", {}).get("limits", {})
        expect(
            gpus is None
            and "generator-cuda" not in gen_container["image"]
            and gen_env.get("APP_INFERENCE_DEVICE") == "cpu"
            and limits.get("cpu")
            and gen_env.get("APP_INFERENCE_THREADS") not in (None, "0"),
            f"{where}: generators run the CPU image with APP_INFERENCE_DEVICE=cpu, a CPU limit and a thread count",
        )

    launches = []
    secret_keys = secret_config_keys()
    for obj in (job, api, gen):
        spec = pod_spec(obj)
        for c in spec["containers"]:
            env, secret_env, missing = container_env(c, config_maps)
            exposed = sorted(secret_keys & set(env))
            expect(
                not exposed,
                f"{where}: {obj['metadata']['name']} takes its secrets ({', '.join(sorted(secret_env)) or 'none'}) "
                f"from Secrets only" + but(exposed),
            )
            for m in missing:
                fail(
                    f"{where}: {obj['kind']}/{obj['metadata']['name']} refers to {m}, which the overlay does not render"
                )
            for key, ref in secret_env.items():
                secret, _, item = ref.partition("/")
                if item not in secrets_known.get(secret, set()):
                    fail(f"{where}: Secret {secret} key {item} is not documented in infra/k8s/secrets")
            mounts = pod_mounts(obj, c, secrets_known, where)
            image = image_for(c["image"])
            args = c.get("args") or c.get("command") or []
            launches.append(
                Launch(
                    f"k8s {overlay} {obj['kind']}/{obj['metadata']['name']}",
                    image.binary,
                    list(args),
                    {**image.env, **env},
                    image,
                    mounts,
                    secret_env,
                )
            )
    return launches


def container_env(c: dict, config_maps: dict[str, dict]) -> tuple[dict[str, str], dict[str, str], list[str]]:
    env: dict[str, str] = {}
    secret_env: dict[str, str] = {}
    missing: list[str] = []
    for source in c.get("envFrom", []):
        if "configMapRef" in source:
            name = source["configMapRef"]["name"]
            if name in config_maps:
                env.update(config_maps[name].get("data", {}))
            else:
                missing.append(f"ConfigMap {name}")
        else:
            missing.append(f"envFrom {source} (use secretKeyRef: each key must be visible)")
    for item in c.get("env", []):
        name = item["name"]
        if "value" in item:
            env[name] = item["value"]
            continue
        ref = item.get("valueFrom", {})
        if "secretKeyRef" in ref:
            secret_env[name] = f"{ref['secretKeyRef']['name']}/{ref['secretKeyRef']['key']}"
            env.pop(name, None)
        elif "configMapKeyRef" in ref:
            data = config_maps.get(ref["configMapKeyRef"]["name"], {}).get("data", {})
            if ref["configMapKeyRef"]["key"] in data:
                env[name] = data[ref["configMapKeyRef"]["key"]]
            else:
                missing.append(f"ConfigMap key {ref['configMapKeyRef']}")
        elif "fieldRef" in ref:
            env[name] = "soravibe-pod-" + ref["fieldRef"]["fieldPath"].rsplit(".", 1)[-1]
    for name in list(env):
        if not name.startswith("APP_"):
            env.pop(name)
    return env, secret_env, missing


def pod_mounts(obj: dict, c: dict, secrets_known: dict[str, set[str]], where: str) -> dict[str, tuple]:
    volumes = {v["name"]: v for v in pod_spec(obj).get("volumes", [])}
    mounts: dict[str, tuple] = {}
    for m in c.get("volumeMounts", []):
        v = volumes.get(m["name"])
        if v is None:
            fail(f"{where}: {obj['metadata']['name']} mounts unknown volume {m['name']}")
            continue
        if "emptyDir" in v:
            mounts[m["mountPath"]] = ("dir", f"{obj['metadata']['name']}/{m['name']}")
        elif "secret" in v:
            secret = v["secret"]["secretName"]
            items = v["secret"].get("items")
            keys = (
                [(i["key"], i["path"]) for i in items]
                if items
                else [(k, k) for k in sorted(secrets_known.get(secret, []))]
            )
            for key, _ in keys:
                if key not in secrets_known.get(secret, set()):
                    fail(f"{where}: Secret {secret} file {key} is not documented in infra/k8s/secrets")
            mounts[m["mountPath"]] = ("secret", {path: f"{secret}/{key}" for key, path in keys})
        else:
            fail(f"{where}: volume {m['name']} of a kind this check does not map")
    return mounts


def check_rollout_script() -> None:
    """Runs infra/k8s/rollout.sh against a stand-in kubectl that records its calls."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "calls"
        fake = Path(tmp) / "kubectl"
        fake.write_text(
            "#!/usr/bin/env bash\n"
            f'echo "$*" >> {shlex.quote(str(log))}\n'
            'case "$*" in *"get job soravibe-migrate"*) printf "Complete ";; esac\n'
        )
        fake.chmod(0o755)
        out = subprocess.run(
            ["bash", str(K8S / "rollout.sh"), str(K8S / "overlays/gpu")],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "KUBECTL": str(fake)},
        )
        calls = log.read_text().splitlines() if log.exists() else []

        def first(test) -> int:
            return next((i for i, call in enumerate(calls) if test(call)), -1)

        steps = [
            first(lambda c: c.startswith("-n soravibe delete job soravibe-migrate")),
            first(lambda c: c.startswith("apply -k") and "soravibe.io/phase=pre-rollout" in c),
            first(lambda c: "get job soravibe-migrate" in c),
            first(lambda c: c.startswith("apply -k") and "-l" not in c.split()),
            first(lambda c: "rollout status" in c),
        ]
        in_order = -1 not in steps and steps == sorted(steps)
        expect(
            out.returncode == 0 and in_order,
            "k8s/rollout.sh deletes the old Job, applies the pre-rollout set, waits for migrations, then applies the rest"
            + ("" if out.returncode == 0 else f": {out.stderr.strip()}")
            + ("" if in_order else f"; calls: {calls}"),
        )


# ---------------------------------------------------------------------------------------------
# 2. Compose

INTERPOLATION = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


def interpolate(value, env: dict[str, str], used: set[str], errors: list[str]):
    if isinstance(value, dict):
        return {k: interpolate(v, env, used, errors) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, used, errors) for v in value]
    if not isinstance(value, str):
        return value

    def one(m: re.Match) -> str:
        if m.group(1):
            return "$"
        name = m.group(2) or m.group(5)
        op, arg = m.group(3), m.group(4) or ""
        used.add(name)
        present = name in env and (env[name] != "" or not (op or "").startswith(":"))
        if op in (":?", "?") and not present:
            errors.append(f"${{{name}}} is required ({arg}) and infra/env.example does not set it")
            return ""
        if op in (":-", "-") and not present:
            return arg
        if op in (":+", "+"):
            return arg if present else ""
        return env.get(name, "")

    return INTERPOLATION.sub(one, value)


def merge(base, override):
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for k, v in override.items():
            out[k] = merge(base[k], v) if k in base else v
        return out
    return override


def compose_schema() -> dict:
    cache = ROOT / ".venv/cache/compose-spec"
    wheel = cache / COMPOSE_WHEEL
    if not wheel.exists() or hashlib.sha256(wheel.read_bytes()).hexdigest() != COMPOSE_WHEEL_SHA256:
        cache.mkdir(parents=True, exist_ok=True)
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "--only-binary=:all:",
                "--dest",
                str(cache),
                "docker-compose==1.29.2",
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if out.returncode != 0 or not wheel.exists():
            raise RuntimeError(f"pip download docker-compose==1.29.2 failed: {out.stderr.strip()[-400:]}")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != COMPOSE_WHEEL_SHA256:
        raise RuntimeError(f"{wheel} has sha256 {digest}, expected {COMPOSE_WHEEL_SHA256}")
    with zipfile.ZipFile(wheel) as z:
        return json.loads(z.read(COMPOSE_SCHEMA_MEMBER))


def schema_errors(validator, doc) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:200]}" for e in validator.iter_errors(doc)]


def check_compose() -> list[Launch]:
    print("Compose (Compose Specification schema from the docker-compose 1.29.2 wheel)", flush=True)
    try:
        schema = compose_schema()
    except (RuntimeError, subprocess.TimeoutExpired, OSError, KeyError) as e:
        fail(f"compose schema: {e}")
        return []
    # The file names draft 2019-09 as http://json-schema.org/draft/2019-09/schema#, which
    # jsonschema does not recognise by that spelling: use that draft's validator explicitly.
    validator = jsonschema.Draft201909Validator(schema)
    values = env_example_keys(INFRA / "env.example")
    raw = yaml.safe_load((INFRA / "compose.yaml").read_text())
    raw_gpu = yaml.safe_load((INFRA / "compose.gpu.yaml").read_text())
    used: set[str] = set()
    errors: list[str] = []
    doc = interpolate(raw, values, used, errors)
    gpu = interpolate(raw_gpu, values, used, errors)
    expect(
        not errors,
        "every ${VAR} compose needs is set in infra/env.example" + "".join(f"\n         {e}" for e in errors),
    )
    unused = sorted(set(values) - used)
    expect(not unused, "infra/env.example sets nothing compose does not use" + but(unused))
    merged = merge(doc, gpu)
    for name, d in [
        ("compose.yaml", doc),
        ("compose.gpu.yaml (alone)", gpu),
        ("compose.yaml + compose.gpu.yaml", merged),
    ]:
        errs = schema_errors(validator, d)
        expect(
            not errs,
            f"{name} is valid against the Compose Specification schema" + "".join(f"\n         {e}" for e in errs[:10]),
        )
    check_compose_structure(doc, raw)
    check_monitoring(doc)
    launches = compose_launches("compose", doc)
    launches += compose_launches("compose+gpu", merged)
    return launches


def check_compose_structure(doc: dict, raw: dict) -> None:
    services = doc["services"]
    volumes = set(doc.get("volumes", {}))
    networks = set(doc.get("networks", {}))
    problems = []
    for name, s in services.items():
        for dep, cond in (
            (s.get("depends_on") or {}).items()
            if isinstance(s.get("depends_on"), dict)
            else [(d, {}) for d in s.get("depends_on", [])]
        ):
            if dep not in services:
                problems.append(f"{name} depends on unknown {dep}")
            elif cond.get("condition") == "service_healthy" and "healthcheck" not in services[dep]:
                problems.append(f"{name} waits for {dep} to be healthy, which has no healthcheck")
        for v in s.get("volumes", []):
            src = v.split(":")[0]
            if src.startswith("."):
                if not (INFRA / src).exists():
                    problems.append(f"{name} mounts {src}, which does not exist")
            elif src not in volumes:
                problems.append(f"{name} mounts undeclared volume {src}")
        for n in s.get("networks", []):
            if n not in networks:
                problems.append(f"{name} joins undeclared network {n}")
        build = s.get("build")
        if (
            isinstance(build, dict)
            and not (INFRA / build.get("context", ".") / build.get("dockerfile", "Dockerfile")).exists()
        ):
            problems.append(f"{name} builds from a Dockerfile that does not exist")
    expect(
        not problems,
        "compose services refer only to services, volumes, networks and files that exist"
        + "".join(f"\n         {p}" for p in problems),
    )

    apis = api_services(doc)
    migrate = [n for n, s in services.items() if s.get("command") == ["migrate"]]
    expect(len(apis) == 2, f"two API nodes run `backend serve` ({', '.join(apis)})")
    expect(
        len(migrate) == 1
        and services[migrate[0]].get("restart") == "no"
        and all(
            services[a]["depends_on"].get(migrate[0], {}).get("condition") == "service_completed_successfully"
            for a in apis
        ),
        "`backend migrate` is a one-shot service every API node waits for (service_completed_successfully)",
    )
    expect(
        all("/readyz" in " ".join(services[a].get("healthcheck", {}).get("test", [])) for a in apis),
        "API nodes' healthcheck asks /readyz",
    )
    gens = [n for n, s in services.items() if "generator" in str(s.get("image", ""))]
    expect(len(gens) == 2, f"two generators ({', '.join(gens)})")
    for kind, words in [
        ("PostgreSQL", ("postgres:",)),
        ("Redis", ("redis:",)),
        ("the object store", ("seaweedfs", "minio")),
    ]:
        expect(any(any(w in str(s.get("image", "")) for w in words) for s in services.values()), f"compose runs {kind}")
    db_net = {n for n, s in services.items() if "postgres:" in str(s.get("image", ""))}
    db_nets = {net for n in db_net for net in services[n].get("networks", [])}
    on_db = sorted(n for n, s in services.items() if set(s.get("networks", [])) & db_nets and n not in db_net)
    expect(
        set(on_db) == set(apis) | set(migrate),
        f"only the API nodes and migrate share PostgreSQL's network ({', '.join(on_db)})",
    )
    # Secrets: the configuration's secret keys, and passwords, keys and credentials of the other
    # services, must come from ${VAR} (infra/.env), never be written here.
    secret_keys = secret_config_keys()
    literal = [
        f"{name}.{key}"
        for name, service in raw["services"].items()
        for key, value in (service.get("environment") or {}).items()
        if (key in secret_keys or re.search(r"PASSWORD|SECRET|ACCESS_KEY", key)) and "${" not in str(value)
        # A URL without credentials (Redis on the internal network) holds no secret.
        and not ("://" in str(value) and "@" not in str(value))
    ]
    expect(not literal, "every secret in compose.yaml comes from ${VAR:?} in infra/.env" + but(literal))


def api_services(doc: dict) -> list[str]:
    return [n for n, s in doc["services"].items() if s.get("command") == ["serve"]]


def check_monitoring(doc: dict) -> None:
    services = doc["services"]
    apis = api_services(doc)
    port = lambda s: services[s]["environment"]["APP_LISTEN"].rsplit(":", 1)[1]  # noqa: E731
    # nginx
    conf = (INFRA / "nginx/soravibe.conf").read_text()
    upstream = set(re.findall(r"^\s*server\s+([\w.-]+:\d+)", conf, re.M))
    expect(
        upstream == {f"{a}:{port(a)}" for a in apis}, f"nginx balances both API nodes ({', '.join(sorted(upstream))})"
    )
    ws = re.search(r"location\s*=\s*/graphql/ws\s*\{[^}]*\}", conf)
    expect(
        bool(ws)
        and "proxy_set_header Upgrade $http_upgrade" in conf
        and "proxy_set_header Connection $connection_upgrade" in conf,
        "nginx upgrades /graphql/ws to a WebSocket",
    )
    expect(
        not re.search(r"location[^{]*\{[^}]*proxy_set_header", conf),
        "nginx sets proxy headers once (a location setting one would drop the rest)",
    )
    check_nginx_syntax(conf, apis)
    # Prometheus
    prom = yaml.safe_load((INFRA / "prometheus/prometheus.yml").read_text())
    targets = {
        t
        for job in prom["scrape_configs"]
        for sc in job.get("static_configs", [])
        for t in sc["targets"]
        if job.get("metrics_path", "/metrics") == "/metrics"
    }
    expect(
        targets == {f"{a}:{port(a)}" for a in apis},
        f"Prometheus scrapes /metrics of every API node ({', '.join(sorted(targets))})",
    )
    prom_svc = next(n for n, s in services.items() if "prometheus" in str(s.get("image", "")))
    expect(
        bool(set(services[prom_svc]["networks"]) & set(services[apis[0]]["networks"])),
        "Prometheus shares a network with the API nodes",
    )
    # Grafana
    datasource = yaml.safe_load((INFRA / "grafana/provisioning/datasources/prometheus.yaml").read_text())[
        "datasources"
    ][0]
    provider = yaml.safe_load((INFRA / "grafana/provisioning/dashboards/soravibe.yaml").read_text())["providers"][0]
    grafana = next(s for s in services.values() if "grafana" in str(s.get("image", "")))
    mounted = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"]}
    expect(
        mounted.get(provider["options"]["path"]) == "./grafana/dashboards",
        "Grafana's dashboard provider reads the mounted infra/grafana/dashboards",
    )
    expect(
        urllib.parse.urlparse(datasource["url"]).hostname == prom_svc, "Grafana's datasource is the compose Prometheus"
    )
    check_dashboard(datasource["uid"])


def check_nginx_syntax(conf: str, apis: list[str]) -> None:
    nginx = shutil.which("nginx")
    if not nginx:
        notes.append("nginx -t skipped: nginx is not installed here")
        return
    with tempfile.TemporaryDirectory() as tmp:
        text = conf
        for a in apis:
            text = text.replace(f"server {a}:", "server 127.0.0.1:")
        (Path(tmp) / "site.conf").write_text(text)
        main = f"pid {tmp}/nginx.pid; error_log {tmp}/error.log; events {{}} http {{ access_log off; include {tmp}/site.conf; }}\n"
        (Path(tmp) / "nginx.conf").write_text(main)
        out = subprocess.run(
            [nginx, "-t", "-q", "-p", tmp, "-c", f"{tmp}/nginx.conf"], capture_output=True, text=True, timeout=30
        )
        expect(
            out.returncode == 0,
            "nginx -t accepts infra/nginx/soravibe.conf" + ("" if out.returncode == 0 else f": {out.stderr.strip()}"),
        )


PROMQL_WORDS = {
    "sum",
    "max",
    "min",
    "avg",
    "count",
    "rate",
    "irate",
    "increase",
    "histogram_quantile",
    "by",
    "without",
    "on",
    "ignoring",
    "and",
    "or",
    "unless",
    "offset",
    "clamp_min",
    "clamp_max",
    "topk",
    "bottomk",
    "abs",
    "bool",
}


def exported_metrics() -> dict[str, tuple[str, set[str]]]:
    """Metric name -> (kind, labels), from the Opts::new / HistogramOpts::new calls in api/src."""
    found: dict[str, tuple[str, set[str]]] = {}
    for path in (ROOT / "api/src").rglob("*.rs"):
        text = path.read_text()
        for m in re.finditer(r"\b(Histogram)?Opts::new\(\s*\"([a-zA-Z_:][a-zA-Z0-9_:]*)\"", text):
            labels_at = text.find("&[", m.end())
            labels = (
                set(re.findall(r"\"([^\"]+)\"", text[labels_at : text.find("]", labels_at)]))
                if labels_at != -1
                else set()
            )
            found[m.group(2)] = ("histogram" if m.group(1) else "other", labels)
    return found


def check_dashboard(datasource_uid: str) -> None:
    board = json.loads((INFRA / "grafana/dashboards/service.json").read_text())
    metrics = exported_metrics()
    problems, names = [], set()
    panels = [p for p in board["panels"] if p.get("type") != "row"]
    for p in panels:
        if p.get("datasource", {}).get("uid") != datasource_uid:
            problems.append(f"panel {p['title']!r} uses another datasource")
        for t in p.get("targets", []):
            expr = t["expr"]
            bare = re.sub(r"\[[^\]]*\]", "", expr)
            grouped = re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", bare)
            bare = re.sub(r"\b(?:by|without)\s*\([^)]*\)", "", bare)
            matchers = re.findall(r"\{([^}]*)\}", bare)
            bare = re.sub(r"\{[^}]*\}", "", bare)
            tokens = [w for w in re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", bare) if w not in PROMQL_WORDS]
            labels_used = {x.strip() for g in grouped for x in g.split(",") if x.strip()}
            labels_used |= {x.split("=")[0].strip() for m in matchers for x in m.split(",") if x.strip()}
            series_labels: set[str] = set()
            for tok in tokens:
                if tok == "up":
                    series_labels |= {"job", "instance"}
                    continue
                base = re.sub(r"_(bucket|sum|count)$", "", tok)
                kind, labels = metrics.get(tok) or metrics.get(base) or (None, set())
                if kind is None or (tok != base and tok not in metrics and kind != "histogram"):
                    problems.append(f"panel {p['title']!r}: {tok} is not a metric the service registers")
                    continue
                names.add(base if tok not in metrics else tok)
                series_labels |= labels | ({"le"} if tok.endswith("_bucket") else set())
            stray = labels_used - series_labels
            if stray:
                problems.append(f"panel {p['title']!r}: labels {sorted(stray)} are not on {tokens}")
    expect(
        not problems,
        f"the dashboard's {len(panels)} panels query only registered metrics and labels ({len(names)} metrics)"
        + "".join(f"\n         {x}" for x in problems),
    )
    wanted = {
        "graphql_operations_total",
        "graphql_errors_total",
        "graphql_operation_duration_seconds",
        "jobs_live",
        "jobs_ended_total",
        "job_stage_seconds",
        "feed_cache_lookups_total",
    }
    expect(
        wanted <= names,
        "the dashboard shows requests, errors, latency, queue depth, ended jobs, stage times and cache hits"
        + but(sorted(wanted - names)),
    )


def compose_launches(variant: str, doc: dict) -> list[Launch]:
    launches = []
    for name, s in doc["services"].items():
        image_name = str(s.get("image", ""))
        if not image_name.startswith("soravibe/"):
            continue
        image = image_for(image_name)
        env = dict(image.env)
        for env_file in [s["env_file"]] if isinstance(s.get("env_file"), str) else s.get("env_file", []):
            env.update(env_example_keys(INFRA / env_file))
        given = s.get("environment") or {}
        if isinstance(given, list):
            given = dict(item.split("=", 1) for item in given)
        env.update({k: str(v) for k, v in given.items()})
        env = {k: v for k, v in env.items() if k.startswith("APP_")}
        mounts = {}
        for v in s.get("volumes", []):
            src, dest = v.split(":")[:2]
            if not src.startswith("."):
                mounts[dest] = ("dir", f"{variant}/{src}")  # a named volume: shared by its services
        launches.append(
            Launch(f"{variant} {name}", image.binary, [str(a) for a in s.get("command") or []], env, image, mounts)
        )
    return launches


# ---------------------------------------------------------------------------------------------
# 3. Start the binaries


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Services:
    """The loopback stand-ins: a fresh database, a Redis prefix, an S3 server, secret values."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.pg_admin = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
        self.redis = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
        self.db_name = f"infra_check_{os.getpid()}_{secrets.token_hex(3)}"
        self.db_url = urllib.parse.urlparse(self.pg_admin)._replace(path=f"/{self.db_name}").geturl()
        self.prefix = f"infracheck{secrets.token_hex(4)}"
        self.moto: subprocess.Popen | None = None
        self.s3 = ""
        self.dirs: dict[str, Path] = {}
        self.jwt_pem = ""
        self.c2pa: dict[str, bytes] = {}

    def start(self) -> None:
        self.psql(f'CREATE DATABASE "{self.db_name}"')
        port = free_port()
        self.moto = subprocess.Popen(
            [str(MOTO), "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.s3 = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or self.moto.poll() is not None:
                    raise RuntimeError("moto_server did not start")
                time.sleep(0.1)
        self.jwt_pem = ed25519_pem()

    def create_bucket(self, bucket: str) -> None:
        req = urllib.request.Request(f"{self.s3}/{bucket}", method="PUT")
        with urllib.request.urlopen(req, timeout=10) as r:
            if r.status not in (200, 409):
                raise RuntimeError(f"creating bucket {bucket}: HTTP {r.status}")

    def psql(self, sql: str) -> None:
        out = subprocess.run(
            ["psql", self.pg_admin, "-v", "ON_ERROR_STOP=1", "-qAtc", sql], capture_output=True, text=True, timeout=60
        )
        if out.returncode != 0:
            raise RuntimeError(f"psql: {out.stderr.strip()}")

    def dir(self, key: str) -> Path:
        if key not in self.dirs:
            path = self.tmp / "volumes" / re.sub(r"[^\w.-]+", "_", key)
            path.mkdir(parents=True)
            self.dirs[key] = path
        return self.dirs[key]

    def secret_value(self, ref: str) -> str:
        """A test value of the right form for a Secret key the deployment names."""
        key = ref.split("/", 1)[1]
        values = {
            "APP_DATABASE_URL": self.db_url,
            "APP_REDIS_URL": self.redis,
            "APP_S3_ACCESS_KEY": "check-access-key",
            "APP_S3_SECRET_KEY": "check-secret-key",
            "APP_WATERMARK_KEY": secrets.token_hex(32),
            "APP_JWT_PRIVATE_KEY_PEM": self.jwt_pem,
            "APP_SMTP_URL": f"smtp://127.0.0.1:{free_port()}",
        }
        if key not in values:
            raise KeyError(f"no test value for Secret key {ref}")
        return values[key]

    def secret_file(self, ref: str) -> bytes:
        key = ref.split("/", 1)[1]
        if key == "media-links.key":
            return secrets.token_bytes(32)
        local_ca = {
            "signer-chain.pem": "c2pa-signer.pem",
            "signer.key": "c2pa-signer.key",
            "roots.pem": "c2pa-root.pem",
        }
        if key in local_ca and local_ca[key] in self.c2pa:
            return self.c2pa[local_ca[key]]
        raise KeyError(f"no test file for Secret key {ref}")

    def stop(self) -> None:
        if self.moto and self.moto.poll() is None:
            self.moto.terminate()
            try:
                self.moto.wait(10)
            except subprocess.TimeoutExpired:
                self.moto.kill()
        try:
            self.psql(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        except RuntimeError as e:
            print(f"  note: {e}", flush=True)
        cli = shutil.which("redis-cli")
        if cli:
            keys = subprocess.run(
                [cli, "-u", self.redis, "--scan", "--pattern", f"{self.prefix}*"],
                capture_output=True,
                text=True,
                timeout=30,
            ).stdout.split()
            for i in range(0, len(keys), 500):
                subprocess.run([cli, "-u", self.redis, "del", *keys[i : i + 500]], capture_output=True, timeout=30)


def ed25519_pem() -> str:
    """A fresh Ed25519 private key, PKCS#8 PEM (what infra/k8s/secrets/README.md has operators make)."""
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    except ImportError:  # cryptography comes with moto; openssl is the fallback
        return subprocess.run(
            ["openssl", "genpkey", "-algorithm", "ed25519"], capture_output=True, text=True, check=True
        ).stdout
    return (
        Ed25519PrivateKey.generate()
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )


SYSTEM_PROGRAMS = {"/usr/bin/flite": "flite"}


def local_path(value: str, launch: Launch, svc: Services, files: dict[str, Path]) -> str | None:
    """Where an in-container path is on this machine: the mounts, then what the image copies."""
    best = None
    for mount in launch.mounts:
        if value == mount or value.startswith(mount.rstrip("/") + "/"):
            if best is None or len(mount) > len(best):
                best = mount
    if best is not None:
        return str(files[best]) + value[len(best.rstrip("/")) :] if value != best else str(files[best])
    for dest, local in sorted(launch.image.copies, key=lambda c: -len(c[0])):
        if value == dest or value.startswith(dest + "/"):
            candidate = Path(str(local) + value[len(dest) :])
            if candidate.exists():
                return str(candidate)
            if candidate.name.startswith("libonnxruntime.so") and (ROOT / ".venv/ort/libonnxruntime.so").exists():
                return str(ROOT / ".venv/ort/libonnxruntime.so")
            return None
    if value in SYSTEM_PROGRAMS:
        return shutil.which(SYSTEM_PROGRAMS[value]) or value
    return None


def prepare(launch: Launch, svc: Services, index: int) -> tuple[dict[str, str], list[str]]:
    """The environment a launch runs with here, and what could not be mapped."""
    problems: list[str] = []
    files: dict[str, Path] = {}
    for mount, (kind, detail) in launch.mounts.items():
        if kind == "dir":
            files[mount] = svc.dir(detail)
        else:
            slug = re.sub(r"[^\w]+", "_", mount)
            folder = svc.tmp / "secrets" / f"{index}_{slug}"
            folder.mkdir(parents=True, exist_ok=True)
            for name, ref in detail.items():
                try:
                    (folder / name).write_bytes(svc.secret_file(ref))
                except KeyError as e:
                    problems.append(str(e))
            files[mount] = folder
    env = dict(launch.env)
    for key, ref in launch.secret_env.items():
        try:
            env[key] = svc.secret_value(ref)
        except KeyError as e:
            problems.append(str(e))
    for key, value in list(env.items()):
        if key == "APP_DATABASE_URL":
            env[key] = svc.db_url
        elif key == "APP_REDIS_URL":
            env[key] = svc.redis
        elif key == "APP_REDIS_PREFIX":
            env[key] = svc.prefix
        elif key == "APP_S3_ENDPOINT":
            env[key] = svc.s3
        elif key == "APP_LISTEN":
            env[key] = f"127.0.0.1:{free_port()}"
        elif key == "APP_OTLP_ENDPOINT":
            # A collector that is not there: spans are dropped, the binary must run regardless.
            env[key] = f"http://127.0.0.1:{free_port()}"
        elif key == "APP_SMTP_URL":
            u = urllib.parse.urlparse(value)
            env[key] = u._replace(
                netloc=f"{u.netloc.rpartition('@')[0] + '@' if '@' in u.netloc else ''}127.0.0.1:{free_port()}"
            ).geturl()
        elif value.startswith("/"):
            mapped = local_path(value, launch, svc, files)
            if mapped is None:
                problems.append(f"{key}={value}: no such file in the image or its volumes")
            else:
                env[key] = mapped
    if "APP_S3_BUCKET" in env:
        svc.create_bucket(env["APP_S3_BUCKET"])
    return env, problems


@dataclass
class Run:
    launch: Launch
    covers: list[str]
    env: dict[str, str]
    proc: subprocess.Popen | None = None
    log: Path | None = None
    lines: list[str] = field(default_factory=list)
    ready_at: float | None = None


def start(run: Run, tmp: Path, index: int) -> None:
    binary = BACKEND if run.launch.binary == "backend" else GENERATOR
    cwd = tmp / f"cwd{index}"
    cwd.mkdir()
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    run.log = tmp / f"run{index}.log"
    run.proc = subprocess.Popen(
        [str(binary), *run.launch.args],
        env={**base, **run.env},
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def pump() -> None:
        with open(run.log, "w") as f:
            for line in run.proc.stdout:
                run.lines.append(line)
                f.write(line)

    threading.Thread(target=pump, daemon=True).start()


def tail(run: Run, n: int = 15) -> str:
    return "".join(run.lines[-n:]).rstrip()


def wait_ready(run: Run, what: str, deadline: float) -> bool:
    name = f"{' / '.join(run.covers)}: {run.launch.binary} {' '.join(run.launch.args)}".strip()
    while time.monotonic() < deadline:
        code = run.proc.poll()
        if what == "exit0":
            if code is not None:
                time.sleep(0.2)
                return expect(code == 0, f"{name} exited {code}" + (f"\n{tail(run)}" if code else ""))
        elif code is not None:
            time.sleep(0.2)
            return expect(False, f"{name} exited {code} before it was ready\n{tail(run)}")
        elif what == "readyz":
            try:
                with urllib.request.urlopen(f"http://{run.env['APP_LISTEN']}/readyz", timeout=2) as r:
                    if r.status == 200:
                        run.ready_at = time.monotonic()
                        return True
            except (urllib.error.URLError, OSError):
                pass
        elif what == "worker":
            if any("worker started" in line for line in run.lines):
                run.ready_at = time.monotonic()
                return True
        time.sleep(0.2)
    run.proc.kill()
    return expect(False, f"{name} was not ready within {START_LIMIT:.0f} s\n{tail(run)}")


def stop(run: Run, what: str) -> None:
    name = f"{' / '.join(run.covers)}: {run.launch.binary} {' '.join(run.launch.args)}".strip()
    run.proc.send_signal(signal.SIGTERM)
    try:
        code = run.proc.wait(STOP_LIMIT)
    except subprocess.TimeoutExpired:
        run.proc.kill()
        fail(f"{name} did not stop within {STOP_LIMIT:.0f} s of SIGTERM")
        return
    keys = len(run.env)
    expect(
        code == 0,
        f"{name} accepted its {keys} APP_ keys, {what}, and exited 0 on SIGTERM"
        + ("" if code == 0 else f" (exit {code})\n{tail(run)}"),
    )


def check_binaries(launches: list[Launch]) -> None:
    print("APP_ variables: the real binaries started with what the deployments give them", flush=True)
    for path in (BACKEND, GENERATOR, MOTO):
        if not path.exists():
            fail(f"{path.relative_to(ROOT)} is missing (cargo build --bins; scripts/setup.sh for moto)")
            return
    # One run per distinct environment (api1 and api2 share theirs; generators differ by name only).
    groups: dict[str, list[Launch]] = {}
    for launch in launches:
        groups.setdefault(launch.signature(), []).append(launch)
    with tempfile.TemporaryDirectory(prefix="check-infra-") as tmp_name:
        tmp = Path(tmp_name)
        svc = Services(tmp)
        runs: list[Run] = []
        try:
            svc.start()
            # The compose API runs first: its data folder gets the local C2PA CA, whose files stand
            # in for the soravibe-c2pa Secret of the Kubernetes pods.
            ordered = sorted(
                groups.values(),
                key=lambda g: (
                    g[0].args != ["migrate"],
                    not g[0].origin.startswith("compose "),
                    g[0].binary != "backend",
                ),
            )
            prepared = [(group, i) for i, group in enumerate(ordered)]
            negative(svc, tmp, ordered)
            migrations = [(g, i) for g, i in prepared if g[0].args == ["migrate"]]
            others = [(g, i) for g, i in prepared if g[0].args != ["migrate"]]
            first_api = next(
                ((g, i) for g, i in others if g[0].binary == "backend" and g[0].origin.startswith("compose ")), None
            )
            if first_api:
                others = [(g, i) for g, i in others if i != first_api[1]]

            def launch_group(group, i) -> Run | None:
                try:
                    env, problems = prepare(group[0], svc, i)
                except (KeyError, RuntimeError, OSError, urllib.error.URLError) as e:
                    problems, env = [str(e)], {}
                if problems:
                    fail(f"{group[0].origin}: " + "; ".join(problems))
                    return None
                run = Run(group[0], [g.origin for g in group], env)
                start(run, tmp, i)
                return run

            # Migrations one after another (two at once on one fresh database would race).
            for group, i in migrations:
                run = launch_group(group, i)
                if run:
                    runs.append(run)
                    wait_ready(run, "exit0", time.monotonic() + START_LIMIT)
            if first_api:
                run = launch_group(*first_api)
                if run:
                    runs.append(run)
                    if wait_ready(run, "readyz", time.monotonic() + START_LIMIT):
                        c2pa = Path(run.env["APP_DATA_DIR"]) / "c2pa"
                        svc.c2pa = {p.name: p.read_bytes() for p in c2pa.glob("*")} if c2pa.is_dir() else {}
                        stop(run, "answered /readyz with 200")
            started = []
            for group, i in others:
                run = launch_group(group, i)
                if run:
                    runs.append(run)
                    started.append(run)
            deadline = time.monotonic() + START_LIMIT
            for run in started:
                what = "readyz" if run.launch.binary == "backend" else "worker"
                if wait_ready(run, what, deadline):
                    stop(run, "answered /readyz with 200" if what == "readyz" else 'logged "worker started"')
        except (RuntimeError, OSError, subprocess.SubprocessError, KeyError) as e:
            fail(f"running the binaries: {e}")
        finally:
            for run in runs:
                if run.proc and run.proc.poll() is None:
                    run.proc.kill()
            svc.stop()


def negative(svc: Services, tmp: Path, groups: list[list[Launch]]) -> None:
    """A misspelt key must be refused with exit code 2 by both binaries, before anything else."""
    for binary, args in (("backend", ["migrate"]), ("generator", [])):
        path = BACKEND if binary == "backend" else GENERATOR
        group = next((g for g in groups if g[0].binary == binary), None)
        env = {
            k: v
            for k, v in (group[0].env.items() if group else [])
            if not v.startswith("/") and k != "APP_DATABASE_URL"
        }
        env["APP_REDIS_UR"] = svc.redis
        base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME")}
        out = subprocess.run(
            [str(path), *args], env={**base, **env}, cwd=tmp, capture_output=True, text=True, timeout=30
        )
        expect(
            out.returncode == 2 and "APP_REDIS_UR" in out.stderr,
            f"control: {binary} refuses a misspelt APP_REDIS_UR with exit code 2"
            + ("" if out.returncode == 2 else f" (got {out.returncode}: {out.stderr.strip()[-300:]})"),
        )


# ---------------------------------------------------------------------------------------------


def main() -> int:
    started = time.monotonic()
    os.chdir(ROOT)
    launches: list[Launch] = []
    try:
        launches += check_kubernetes()
    except (OSError, KeyError, yaml.YAMLError) as e:
        fail(f"kubernetes: {e}")
    try:
        launches += check_compose()
    except (OSError, KeyError, yaml.YAMLError) as e:
        fail(f"compose: {e}")
    if launches:
        check_binaries(launches)
    for n in notes:
        print(f"  note: {n}")
    elapsed = time.monotonic() - started
    if failures:
        print(f"check_infra: {len(failures)} failed ({elapsed:.1f} s):", file=sys.stderr)
        for f in failures:
            print(f"  - {f.splitlines()[0]}", file=sys.stderr)
        return 1
    print(f"check_infra: all passed ({elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Static checks of the production Docker files: docker/Dockerfile, docker/compose.yaml,
docker/.env.example and .dockerignore. No Docker engine and no database needed.

`docker-compose config -q` (Debian's docker-compose, installed by `make install`) also validates
the compose file with Compose's own schema.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import secrets
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

import pdm_saas.settings as project_settings

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
COMPOSE = DOCKER / "compose.yaml"
ENV_EXAMPLE = DOCKER / ".env.example"
DOCKERIGNORE = ROOT / ".dockerignore"
SETTINGS_SOURCE = ROOT / "pdm_saas" / "settings.py"

APP_SERVICES = ("migrate", "web", "ws", "worker", "worker-ml", "beat")
WORKER_SERVICES = ("worker", "worker-ml")
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
ASGI_APP = "pdm_saas.asgi:application"
WSGI_APP = "pdm_saas.wsgi:application"
HAPROXY_CFG = DOCKER / "haproxy" / "haproxy.cfg"


# --- Helpers ------------------------------------------------------------------------------------


def _compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())  # PyYAML resolves the `<<: *app` merge keys
    assert isinstance(data, dict), "compose.yaml must be a mapping"
    return data


def _services() -> dict[str, dict[str, Any]]:
    return _compose()["services"]  # type: ignore[no-any-return]


def _env_lines() -> list[str]:
    return ENV_EXAMPLE.read_text().splitlines()


def _env_example() -> dict[str, str]:
    values: dict[str, str] = {}
    for number, line in enumerate(_env_lines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition("=")
        assert sep, f".env.example line {number} is neither a comment nor KEY=value: {line!r}"
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", key), f".env.example line {number}: bad name {key!r}"
        assert key not in values, f".env.example sets {key} twice"
        values[key] = value
    return values


def _settings_env_names() -> set[str]:
    """Names passed to env_str/env_bool/env_int/env_list in the settings source (DATABASE_URL too)."""
    source = SETTINGS_SOURCE.read_text()
    return set(re.findall(r"""\benv_(?:str|bool|int|list)\(\s*["']([A-Z][A-Z0-9_]*)["']""", source))


def _declared_queues() -> set[str]:
    """The queues Celery declares: CELERY_TASK_QUEUES (kombu Queue objects), or a plain
    CELERY_QUEUES / JOB_QUEUES tuple of names where the settings keep one instead."""
    for name in ("CELERY_TASK_QUEUES", "CELERY_QUEUES", "JOB_QUEUES"):
        queues = getattr(project_settings, name, None)
        if queues:
            return {getattr(queue, "name", queue) for queue in queues}
    raise AssertionError("the settings declare no Celery queues")


def _command(service: dict[str, Any]) -> list[str]:
    command = service.get("command")
    if isinstance(command, str):
        return command.split()
    assert isinstance(command, list), f"unexpected command: {command!r}"
    return [str(part) for part in command]


def _queues_of(service: dict[str, Any]) -> set[str]:
    command = _command(service)
    assert "-Q" in command, f"worker command has no -Q: {command}"
    return set(command[command.index("-Q") + 1].split(","))


def _env_file(service: dict[str, Any]) -> list[str]:
    env_file = service.get("env_file")
    return [env_file] if isinstance(env_file, str) else list(env_file or [])


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, args = full.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    assert not pending, "Dockerfile ends inside a continued line"
    return instructions


def _final_stage() -> list[tuple[str, str]]:
    instructions = _dockerfile_instructions()
    starts = [index for index, (keyword, _) in enumerate(instructions) if keyword == "FROM"]
    assert starts, "Dockerfile has no FROM"
    return instructions[starts[-1]:]


def _exec_form(args: str) -> list[str]:
    parsed = json.loads(args)
    assert isinstance(parsed, list) and all(isinstance(part, str) for part in parsed), args
    return parsed


# --- compose.yaml --------------------------------------------------------------------------------


def test_compose_uses_the_compose_spec_format() -> None:
    assert "version" not in _compose(), "the Compose Specification has no top-level `version:`"


def test_compose_defines_every_service() -> None:
    expected = {"postgres", "redis", *APP_SERVICES}
    missing = expected - set(_services())
    assert not missing, f"compose.yaml lacks services: {sorted(missing)}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_build_the_image_and_read_the_env_file(name: str) -> None:
    service = _services()[name]
    build = service.get("build")
    assert isinstance(build, dict), f"{name} must build the image"
    assert build.get("context") == "..", f"{name}: build context must be the repository root"
    assert build.get("dockerfile") == "docker/Dockerfile", f"{name}: wrong dockerfile"
    assert _env_file(service) == [".env"], f"{name}: env_file must be .env (copied from .env.example)"


def test_backing_services_are_pinned_and_have_healthchecks() -> None:
    services = _services()
    assert services["postgres"]["image"] == "postgres:15"
    assert services["redis"]["image"] == "redis:7"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "redis-cli ping" in " ".join(services["redis"]["healthcheck"]["test"])
    volumes = _compose().get("volumes") or {}
    data = [mount for mount in services["postgres"]["volumes"] if mount.endswith(":/var/lib/postgresql/data")]
    assert data and data[0].split(":")[0] in volumes, "postgres data must be on a named volume"


def test_migrate_is_one_shot_and_waits_for_healthy_backends() -> None:
    migrate = _services()["migrate"]
    command = " ".join(_command(migrate))
    assert "manage.py platform_migrate" in command
    assert "--executor multiprocessing" in command
    assert migrate.get("restart") in ("no", None), "a one-shot service must not restart"
    assert migrate["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }


@pytest.mark.parametrize("name", ("web", "ws", "worker", "worker-ml", "beat"))
def test_long_running_services_wait_for_a_successful_migration(name: str) -> None:
    depends_on = _services()[name].get("depends_on") or {}
    assert isinstance(depends_on, dict), f"{name}: depends_on needs conditions, not a list"
    assert depends_on.get("migrate") == {"condition": "service_completed_successfully"}


def _shell_words(service: dict[str, Any]) -> list[str]:
    """A `sh -c` command's script as words (quotes and $$ escapes dropped)."""
    command = _command(service)
    assert command[:2] == ["sh", "-c"], command
    return command[2].replace("$$", "$").replace('"', "").split()


def _published(service: dict[str, Any]) -> list[str]:
    return [str(port) for port in service.get("ports", [])]


def test_web_serves_the_wsgi_app_through_granian_workers_behind_the_proxy() -> None:
    web = _services()["web"]
    words = _shell_words(web)
    assert words[:4] == ["exec", "granian", "--interface", "wsgi"] and words[-1] == WSGI_APP, words
    assert words[words.index("--port") + 1] == "8000" and words[words.index("--host") + 1] == "0.0.0.0"
    assert words[words.index("--workers") + 1] == "${PDM_WEB_WORKERS:-$(nproc)}"  # one per core by default
    assert "--respawn-failed-workers" in words
    assert _published(web) == [], "only the proxy publishes a port"
    # Persistent connections (.env's DATABASE_CONN_MAX_AGE), not ASGI's connection per request.
    assert "DATABASE_CONN_MAX_AGE" not in (web.get("environment") or {})
    assert int(_env_example()["DATABASE_CONN_MAX_AGE"]) > 0


def test_ws_serves_the_asgi_app_without_persistent_connections() -> None:
    ws = _services()["ws"]
    command = _command(ws)
    assert command[0] == "daphne" and command[-1] == ASGI_APP, command
    assert command[command.index("-p") + 1] == "8001" and "--no-server-name" in command
    # Django: "When using ASGI, persistent connections should be disabled."
    assert str((ws.get("environment") or {}).get("DATABASE_CONN_MAX_AGE")) == "0"
    assert "http://127.0.0.1:8001/healthz" in " ".join(ws["healthcheck"]["test"])  # not the image's :8000
    assert _published(ws) == []


def test_the_proxy_is_the_one_public_port_and_sends_ws_to_daphne() -> None:
    services = _services()
    proxy = services["proxy"]
    assert proxy["image"] == "haproxy:2.8"
    assert _published(proxy) == ["8000:8000"]
    assert "./haproxy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in proxy["volumes"]
    assert proxy["environment"] == {"PDM_PROXY_BIND": ":8000", "PDM_WEB_UPSTREAM": "web:8000",
                                    "PDM_WS_UPSTREAM": "ws:8001"}
    assert set(proxy["depends_on"]) == {"web", "ws"}
    config = HAPROXY_CFG.read_text()
    assert "use_backend live if { path_beg /ws/ }" in config and "default_backend web" in config
    assert "server ws \"${PDM_WS_UPSTREAM}\" resolvers default" in config
    assert "http-response del-header Server" in config  # no banner (tests/test_security_headers.py)


def test_haproxy_accepts_the_config() -> None:
    # `make install` installs Debian's haproxy (scripts/install_debian_tools.sh); `make run` uses it.
    binary = shutil.which("haproxy")
    assert binary is not None, "haproxy is not on PATH: `make install` installs it"
    env = dict(os.environ, PDM_PROXY_BIND=":8000", PDM_WEB_UPSTREAM="web:8000", PDM_WS_UPSTREAM="ws:8001")
    result = subprocess.run([binary, "-c", "-f", str(HAPROXY_CFG)], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and "Configuration file is valid" in result.stdout + result.stderr, result


def test_prefork_workers_run_one_openmp_thread() -> None:
    # A pool process forked after XGBoost had run with more threads hangs on its next model call
    # (tests/test_fork_safety.py reproduces it); make run's workers say the same (Procfile.dev).
    for name in WORKER_SERVICES:
        assert (_services()[name].get("environment") or {}).get("OMP_NUM_THREADS") == "1", name


def test_celery_services_run_the_project_app() -> None:
    services = _services()
    for name in (*WORKER_SERVICES, "beat"):
        command = _command(services[name])
        assert command[:3] == ["celery", "-A", "pdm_saas"], f"{name}: {command}"
    assert _command(services["worker"])[3] == "worker"
    assert _command(services["worker-ml"])[3] == "worker"
    ml = _command(services["worker-ml"])
    assert ml[ml.index("-c") + 1] == "1", "worker-ml runs one CPU-heavy task at a time"
    beat = _command(services["beat"])
    assert beat[3] == "beat"
    # The image's user cannot write to /app; the schedule must go somewhere writable.
    assert beat[beat.index("--schedule") + 1].startswith("/tmp/")


def test_every_celery_queue_is_consumed_by_a_worker() -> None:
    services = _services()
    consumed = set().union(*(_queues_of(services[name]) for name in WORKER_SERVICES))
    declared = _declared_queues()
    assert declared <= consumed, f"queues nobody consumes: {sorted(declared - consumed)}"
    assert consumed <= declared, f"workers consume undeclared queues: {sorted(consumed - declared)}"
    assert _queues_of(services["worker"]) == {"default", "notify", "ingest"}
    assert _queues_of(services["worker-ml"]) == {"synth", "train", "score"}


def test_queues_named_in_code_are_declared() -> None:
    """A task routed to a queue no worker consumes would wait forever."""
    pattern = re.compile(r"""(?:\bqueue\s*=\s*|["']queue["']\s*:\s*)["']([A-Za-z0-9_.-]+)["']""")
    sample = """task.apply_async(args=[1], queue="train")\nroutes = {"x.y": {'queue': 'notify'}}"""
    assert pattern.findall(sample) == ["train", "notify"], "the queue pattern is broken"
    named: dict[str, str] = {}
    skip = {".venv", ".git", ".data", "tests", "migrations", "node_modules", "__pycache__"}
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [name for name in subfolders if name not in skip]
        for file_name in files:
            if file_name.endswith(".py"):
                path = Path(folder) / file_name
                for queue in pattern.findall(path.read_text(encoding="utf-8")):
                    named.setdefault(queue, str(path.relative_to(ROOT)))
    declared = _declared_queues()
    undeclared = {queue: where for queue, where in named.items() if queue not in declared}
    assert not undeclared, f"queues used in code but not declared in the settings: {undeclared}"


def test_media_volume_is_mounted_at_the_media_root() -> None:
    media_root = _env_example()["DJANGO_MEDIA_ROOT"]
    volumes = _compose().get("volumes") or {}
    for name in ("web", *WORKER_SERVICES):
        mounts = [str(mount).split(":") for mount in _services()[name].get("volumes", [])]
        targets = {parts[1]: parts[0] for parts in mounts if len(parts) >= 2}
        assert media_root in targets, f"{name} does not mount a volume at {media_root}"
        assert targets[media_root] in volumes, f"{name}: {targets[media_root]} is not a named volume"


@pytest.mark.parametrize("name", ("migrate", "worker", "worker-ml", "beat"))
def test_services_without_http_disable_the_image_healthcheck(name: str) -> None:
    # The image HEALTHCHECK polls :8000, which only web serves; elsewhere it would report unhealthy.
    assert (_services()[name].get("healthcheck") or {}).get("disable") is True


def test_compose_interpolations_are_in_env_example() -> None:
    text = COMPOSE.read_text().replace("$$", "")  # $$ is an escaped literal dollar
    names = set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", text))  # ${NAME...} and $NAME
    assert names >= {"POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD"}, names
    missing = names - set(_env_example())
    assert not missing, f"compose.yaml interpolates variables missing from .env.example: {sorted(missing)}"


def test_database_url_matches_the_postgres_service() -> None:
    env = _env_example()
    expected = (f"postgres://{env['POSTGRES_USER']}:{env['POSTGRES_PASSWORD']}"
                f"@postgres:5432/{env['POSTGRES_DB']}")
    assert env["DATABASE_URL"] == expected


def test_redis_urls_use_the_redis_service_with_separate_databases() -> None:
    env = _env_example()
    assert env["REDIS_URL"] == "redis://redis:6379/0"
    assert env["CHANNELS_REDIS_URL"] == "redis://redis:6379/1"
    assert env["CACHE_REDIS_URL"] == "redis://redis:6379/2"


# --- .env.example --------------------------------------------------------------------------------


def test_settings_env_names_are_extracted() -> None:
    # Guards the regex: if it silently matched nothing, the coverage test below would pass vacuously.
    names = _settings_env_names()
    assert {"DATABASE_URL", "DJANGO_SECRET_KEY", "DJANGO_PASSWORD_HASHERS", "LOG_LEVEL"} <= names
    assert len(names) >= 20


def test_env_example_names_every_variable_the_settings_read() -> None:
    missing = _settings_env_names() - set(_env_example())
    assert not missing, f".env.example lacks: {sorted(missing)}"


def test_env_example_covers_every_variable_read_by_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Executes settings.py with a recording environment: catches reads the regex cannot see."""

    class RecordingEnviron(dict[str, str]):
        def __init__(self, initial: Mapping[str, str]) -> None:
            super().__init__(initial)
            self.names: set[str] = set()

        def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
            self.names.add(key)
            return super().get(key, default)

        def __getitem__(self, key: str) -> str:
            self.names.add(key)
            return super().__getitem__(key)

    recorder = RecordingEnviron(os.environ)
    monkeypatch.setattr(os, "environ", recorder)
    runpy.run_path(str(SETTINGS_SOURCE), run_name="settings_under_test")
    read = {name for name in recorder.names if name != "DJANGO_SETTINGS_MODULE"}
    assert "DATABASE_URL" in read
    missing = read - set(_env_example())
    assert not missing, f"settings.py read variables missing from .env.example: {sorted(missing)}"


def test_every_env_example_variable_has_a_comment() -> None:
    lines = _env_lines()
    for index, line in enumerate(lines):
        if line.strip() and not line.lstrip().startswith("#"):
            assert index > 0 and lines[index - 1].lstrip().startswith("#"), (
                f"{line.split('=')[0]} has no comment line above it")


def test_env_example_has_production_values() -> None:
    env = _env_example()
    assert env["DJANGO_DEBUG"] == "false"
    assert env["DJANGO_SECURE_COOKIES"] == "true"
    assert env["CELERY_TASK_ALWAYS_EAGER"] == "false"
    assert "*" not in env["DJANGO_ALLOWED_HOSTS"].split(",")
    assert "MD5" not in env["DJANGO_PASSWORD_HASHERS"].split(",")[0]
    assert env["PDM_BASE_DOMAIN"] != "localhost"
    for value in env["DJANGO_CSRF_TRUSTED_ORIGINS"].split(","):
        assert value.startswith("https://"), value


def test_env_example_contains_no_real_secrets() -> None:
    env = _env_example()
    assert "change-me" in env["DJANGO_SECRET_KEY"]
    assert env["DJANGO_SECRET_KEY"] != project_settings.DEV_SECRET_KEY
    # Names ending like a credential (DJANGO_PASSWORD_HASHERS is a list of classes, not one).
    sensitive = re.compile(r"(?:SECRET|SECRET_KEY|PASSWORD|PASSWD|TOKEN|PRIVATE_KEY)$")
    for key, value in env.items():
        if sensitive.search(key):
            assert "change-me" in value, f"{key} must hold a change-me placeholder, not a value"
    password = re.match(r"postgres://[^:]+:([^@]+)@", env["DATABASE_URL"])
    assert password and "change-me" in password.group(1), "DATABASE_URL must carry a placeholder password"
    real_secret = re.compile(
        r"sk_(?:live|test)_[0-9A-Za-z]{8,}|AKIA[0-9A-Z]{16}|gh[pousr]_[0-9A-Za-z]{20,}|xox[abposr]-"
        r"|-----BEGIN [A-Z ]*PRIVATE KEY-----|django-insecure-"
    )
    for key, value in env.items():
        assert not real_secret.search(value), f"{key} looks like a real credential"
        # A long random-looking run (no separators) is how generated keys and tokens look.
        for chunk in re.split(r"[-./:,@<> ]", value):
            assert len(chunk) < 32, f"{key} contains a long opaque string: {chunk!r}"


def _deploy_check(secret_key: str) -> subprocess.CompletedProcess[str]:
    from maintenance.management.commands.vapid_keys import vapid_private_key_new

    # The other secret the operator must decide on: a VAPID key (or empty: Web Push off).
    env = {**os.environ, **_env_example(), "DJANGO_SECRET_KEY": secret_key,
           "PDM_VAPID_PRIVATE_KEY": vapid_private_key_new()}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "ERROR"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


def test_env_example_passes_the_deploy_check_once_the_secret_is_set() -> None:
    # The same check the compose migrate service runs before migrating; it needs no database.
    result = _deploy_check(secrets.token_urlsafe(50))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_placeholder_secret_fails_the_deploy_check() -> None:
    result = _deploy_check(_env_example()["DJANGO_SECRET_KEY"])
    assert result.returncode != 0
    assert "pdm.E001" in result.stdout + result.stderr
    migrate = " ".join(_command(_services()["migrate"]))
    assert "check --deploy" in migrate and migrate.index("check --deploy") < migrate.index("platform_migrate")


# --- Dockerfile ----------------------------------------------------------------------------------


def test_dockerfile_is_multi_stage_on_python_3_11_slim() -> None:
    froms = [args for keyword, args in _dockerfile_instructions() if keyword == "FROM"]
    assert len(froms) >= 2, "expected a builder stage and a runtime stage"
    assert all(args.split()[0] == "python:3.11-slim" for args in froms), froms
    assert any(keyword == "COPY" and "--from=" in args for keyword, args in _final_stage()), (
        "the runtime stage must copy its packages from the builder")
    assert not any(keyword == "RUN" and "build-essential" in args for keyword, args in _final_stage()), (
        "compilers belong in the builder stage only")


def test_dockerfile_installs_cpu_torch_before_the_requirements() -> None:
    runs = [args for keyword, args in _dockerfile_instructions() if keyword == "RUN"]
    torch = [index for index, args in enumerate(runs) if re.search(r"pip install[^&]*\btorch\b", args)]
    requirements = [index for index, args in enumerate(runs)
                    if re.search(r"pip install[^&]*-r \S*requirements\.txt", args)]
    assert torch and requirements, "expected a torch install and a requirements install"
    assert torch[0] < requirements[0], "torch must be installed first"
    assert f"--index-url {TORCH_CPU_INDEX}" in runs[torch[0]], "torch must come from the CPU index"
    for index in requirements:
        assert "download.pytorch.org" not in runs[index], "only torch comes from the PyTorch index"


def test_the_image_and_requirements_name_the_same_torch() -> None:
    """requirements.txt pins torch (the machine's CPU build); the image installs it from the CPU
    index first. Different versions would make the image's pip swap in PyPI's CUDA wheel."""
    pinned = re.search(r"^torch==(\S+)$", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    argument = re.search(r"^ARG TORCH_VERSION=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert pinned and argument and pinned.group(1) == argument.group(1)


def test_dockerfile_collects_static_files_with_a_build_only_secret() -> None:
    stage = _final_stage()
    runs = [args for keyword, args in stage if keyword == "RUN"]
    collect = [args for args in runs if "manage.py collectstatic" in args]
    assert collect and "--noinput" in collect[0]
    assert "DJANGO_SECRET_KEY=" in collect[0], "collectstatic needs a dummy secret key for that step"
    persisted = " ".join(args for keyword, args in stage if keyword == "ENV")
    assert "DJANGO_SECRET_KEY" not in persisted, "the dummy key must not stay in the image environment"
    static_root = re.search(r"DJANGO_STATIC_ROOT=(\S+)", persisted)
    assert static_root, "the runtime stage must fix DJANGO_STATIC_ROOT"
    assert _env_example()["DJANGO_STATIC_ROOT"] == static_root.group(1), (
        ".env.example would point WhiteNoise away from the files collected at build time")


def test_dockerfile_runs_as_a_non_root_user() -> None:
    stage = _final_stage()
    users = [(index, args) for index, (keyword, args) in enumerate(stage) if keyword == "USER"]
    assert users, "the runtime stage has no USER: it would run as root"
    _, last_user = users[-1]
    user = last_user.split(":")[0]
    assert user not in ("root", "0"), "the image ends as root"
    assert user == "10001", f"expected uid 10001, got {last_user!r}"
    assert any(keyword == "RUN" and "--uid 10001" in args for keyword, args in stage), "uid 10001 not created"
    media_root = _env_example()["DJANGO_MEDIA_ROOT"]
    assert any(keyword == "RUN" and media_root in args and "chown" in args and "10001" in args
               for keyword, args in stage), f"{media_root} must exist and belong to uid 10001"


def test_dockerfile_starts_granian_with_the_wsgi_app() -> None:
    stage = _final_stage()
    commands = [_exec_form(args) for keyword, args in stage if keyword == "CMD"]
    entrypoints = [_exec_form(args) for keyword, args in stage if keyword == "ENTRYPOINT"]
    assert commands, "no CMD"
    argv = (entrypoints[-1] if entrypoints else []) + commands[-1]
    assert argv[:2] == ["sh", "-c"], argv
    # compose's web spells out the same command (test_web_serves_the_wsgi_app_through_granian_workers...)
    assert argv[2].replace('"', "").split() == [w for w in _shell_words(_services()["web"])]
    assert any(keyword == "EXPOSE" and "8000" in args.split() for keyword, args in stage)


def test_dockerfile_healthcheck_hits_healthz_on_an_allowed_host() -> None:
    checks = [args for keyword, args in _final_stage() if keyword == "HEALTHCHECK"]
    assert checks, "no HEALTHCHECK"
    _, _, exec_form = checks[-1].partition("CMD ")
    argv = _exec_form(exec_form)
    assert argv[:2] == ["python", "-c"]
    script = argv[2]
    compile(script, "<healthcheck>", "exec")  # the one-liner must at least be valid Python
    assert "urllib.request" in script and "http://127.0.0.1:8000/healthz" in script
    host = re.search(r"""['"]Host['"]\s*:\s*['"]([^'"]+)['"]""", script)
    assert host, "the healthcheck must send an explicit Host header"
    allowed = _env_example()["DJANGO_ALLOWED_HOSTS"].split(",")
    assert host.group(1) in allowed, f"Host {host.group(1)!r} is not in DJANGO_ALLOWED_HOSTS: 400, not 200"
    # 127.0.0.1 is always a public-tenant domain (tenant_public_ensure); other hosts may not be.
    assert host.group(1) == "127.0.0.1"


def test_dockerignore_keeps_local_state_and_secrets_out() -> None:
    patterns = {line.strip() for line in DOCKERIGNORE.read_text().splitlines()
                if line.strip() and not line.startswith("#")}
    for required in (".venv", ".data", ".git", "staticfiles", "**/__pycache__", "**/*.pyc", "**/.env"):
        assert required in patterns, f".dockerignore must exclude {required}"
    assert not any(pattern.startswith("docker") and "example" in pattern for pattern in patterns)


# --- Optional: the real compose parser ----------------------------------------------------------


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    # Compose's own parser and schema, without an engine. `make install` installs Debian's
    # docker-compose (scripts/install_debian_tools.sh); a missing one fails rather than passing unchecked.
    binary = shutil.which("docker-compose")
    assert binary is not None, "docker-compose is not on PATH: `make install` installs it"
    # A copy in a scratch tree, so the test never creates (or clobbers) a real docker/.env.
    docker_dir = tmp_path / "docker"
    docker_dir.mkdir()
    shutil.copy(COMPOSE, docker_dir / "compose.yaml")
    shutil.copy(DOCKERFILE, docker_dir / "Dockerfile")
    shutil.copy(ENV_EXAMPLE, docker_dir / ".env")
    env = {key: value for key, value in os.environ.items() if not key.startswith("POSTGRES_")}
    result = subprocess.run(
        [binary, "-f", str(docker_dir / "compose.yaml"), "config", "-q"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- Monitoring: Prometheus and Grafana (docs/monitoring.md) -----------------------------------

PROMETHEUS_YML = DOCKER / "prometheus" / "prometheus.yml"
GRAFANA = DOCKER / "grafana"


def _scrape_jobs() -> dict[str, dict[str, Any]]:
    config = yaml.safe_load(PROMETHEUS_YML.read_text())
    return {job["job_name"]: job for job in config["scrape_configs"]}


def _targets(job: dict[str, Any]) -> list[tuple[str, int]]:
    hosts = [str(t) for static in job["static_configs"] for t in static["targets"]]
    return [(host.rsplit(":", 1)[0], int(host.rsplit(":", 1)[1])) for host in hosts]


def _container_path(service: str, source: Path) -> str:
    """Where compose mounts `source` (a file or folder under docker/) in `service`."""
    for mount in _services()[service].get("volumes", []):
        host, target = str(mount).split(":")[:2]
        if (DOCKER / host).resolve() == source.resolve():
            return target
    raise AssertionError(f"{service} does not mount {source.relative_to(ROOT)}")


def test_prometheus_scrapes_every_process_on_the_ports_compose_exposes() -> None:
    jobs, services, env = _scrape_jobs(), _services(), _env_example()
    assert set(jobs) == {"web", "worker", "beat", "mqtt-bridge", "alertmanager"}
    # web: /metrics on the public host, which compose makes a network alias of web.
    (host, port), = _targets(jobs["web"])
    assert jobs["web"].get("metrics_path", "/metrics") == "/metrics" and port == 8000
    assert host == env["PDM_BASE_DOMAIN"] and host in env["DJANGO_ALLOWED_HOSTS"].split(",")
    aliases = services["web"]["networks"]["default"]["aliases"]
    assert aliases == ["${PDM_BASE_DOMAIN:?set PDM_BASE_DOMAIN in docker/.env}"]
    assert jobs["web"]["authorization"]["type"] == "Bearer"
    # Every Celery worker and beat, on the port their environment gives their metrics server.
    workers = {name for name, service in services.items() if "worker" in (service.get("command") or [])}
    assert workers == set(WORKER_SERVICES)
    assert sorted(_targets(jobs["worker"])) == sorted((name, int(env["PDM_WORKER_METRICS_PORT"])) for name in workers)
    assert _targets(jobs["beat"]) == [("beat", int(env["PDM_BEAT_METRICS_PORT"]))]
    assert _targets(jobs["mqtt-bridge"]) == [("mqtt-bridge", int(env["PDM_BRIDGE_METRICS_PORT"]))]
    for name, variable in [*((w, "PDM_WORKER_METRICS_PORT") for w in workers), ("beat", "PDM_BEAT_METRICS_PORT"),
                           ("mqtt-bridge", "PDM_BRIDGE_METRICS_PORT")]:
        assert services[name]["expose"] == [f"${{{variable}:?set {variable} in docker/.env}}"], name
    assert _targets(jobs["alertmanager"]) == [("alertmanager", _alertmanager_port())]


def test_prefork_workers_keep_their_metrics_in_a_multiprocess_folder() -> None:
    # The pool's processes share samples through files (pdm_saas/monitoring/worker.py).
    for name in WORKER_SERVICES:
        command = _command(_services()[name])
        assert "-P" not in command and "--pool" not in " ".join(command), "expected the default prefork pool"
        assert _services()[name]["environment"]["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp/")
    assert "PROMETHEUS_MULTIPROC_DIR" not in _env_example(), "web and beat are single processes"


def test_prometheus_reads_the_token_the_app_checks() -> None:
    prometheus = _services()["prometheus"]
    assert _container_path("prometheus", PROMETHEUS_YML) == "/etc/prometheus/prometheus.yml"
    script = " ".join(_command(prometheus))
    credentials = _scrape_jobs()["web"]["authorization"]["credentials_file"]
    assert f'"$$PDM_METRICS_TOKEN" > {credentials}' in script and "exec /bin/prometheus" in script
    assert prometheus["environment"] == {"PDM_METRICS_TOKEN": "${PDM_METRICS_TOKEN:-}"}
    assert "env_file" not in prometheus, "Prometheus needs none of the application's secrets"
    assert "change-me" in _env_example()["PDM_METRICS_TOKEN"]


def test_grafana_is_provisioned_with_prometheus_and_the_dashboard() -> None:
    grafana = _services()["grafana"]
    environment = grafana["environment"]
    assert environment["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")
    assert "change-me" in _env_example()["GRAFANA_ADMIN_PASSWORD"]
    assert all(str(port).startswith("127.0.0.1:") for port in grafana["ports"] + _services()["prometheus"]["ports"])
    provisioning = _container_path("grafana", GRAFANA / "provisioning")
    assert provisioning == "/etc/grafana/provisioning"
    datasources = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    (source,) = datasources["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    providers = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "pdm.yml").read_text())["providers"]
    dashboards_in_container = providers[0]["options"]["path"]
    assert _container_path("grafana", GRAFANA / "dashboards") == dashboards_in_container
    files = sorted((GRAFANA / "dashboards").glob("*.json"))
    assert files, "no dashboard JSON"
    dashboard = json.loads(files[0].read_text())
    expressions = " ".join(t["expr"] for panel in dashboard["panels"] for t in panel["targets"])
    for metric in ("pdm_http_request_duration_seconds_bucket", "pdm_predictions_stored_total",
                   "pdm_celery_task_duration_seconds_bucket", "pdm_celery_task_failures_total", "pdm_queue_depth",
                   "pdm_ingest_rows_stored_total", "pdm_prediction_failure_probability_bucket",
                   "pdm_prediction_health_score_bucket", "pdm_machines_scorable",
                   "pdm_scoring_last_run_timestamp_seconds"):
        assert metric in expressions, f"the dashboard shows no {metric}"
    assert {t["datasource"]["uid"] for panel in dashboard["panels"] for t in panel["targets"]} == {source["uid"]}


# --- Alert rules (docker/prometheus/alerts.yml) ----------------------------------------------------

ALERTS_YML = DOCKER / "prometheus" / "alerts.yml"
MONITORING_SOURCES = [*sorted((ROOT / "pdm_saas" / "monitoring").glob("*.py")), ROOT / "machines" / "mqtt_bridge.py"]
# The series each metric type exports under its name (prometheus_client's text format).
SERIES_SUFFIXES = {"Counter": ("_total", "_created"), "Histogram": ("_bucket", "_count", "_sum", "_created"),
                   "Summary": ("_count", "_sum", "_created"), "Gauge": ("",), "GaugeMetricFamily": ("",)}
STANDARD_METRICS = re.compile(r"up|scrape_\w+|process_\w+|python_\w+|django_http_\w+")
PROMQL_WORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "offset",
                "bool", "inf", "nan"}


def _exported_series() -> set[str]:
    """Every series name the code exports: `Counter("pdm_x", ...)`, `register_metric(Histogram, "pdm_y"`,
    `Gauge("pdm_z"`, `GaugeMetricFamily("pdm_w"` in pdm_saas/monitoring/ and the MQTT bridge."""
    pattern = re.compile(r"""\b(Counter|Histogram|Summary|Gauge|GaugeMetricFamily)\b(?:\(|,)\s*["'](pdm_\w+)["']""")
    series: set[str] = set()
    for source in MONITORING_SOURCES:
        for kind, name in pattern.findall(source.read_text()):
            base = name.removesuffix("_total") if kind == "Counter" else name
            series.update(base + suffix for suffix in SERIES_SUFFIXES[kind])
    return series


def _metric_names(expr: str) -> set[str]:
    """The metric names in a PromQL expression: identifiers that are not functions, keywords, label
    names (inside `{}` or `by (...)`), durations (inside `[]`) or strings."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)  # label matchers, ranges
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set(re.findall(r"(?<![\w.:])([a-zA-Z_:][\w:]*)(?![\w:]|\s*\()", text))
    return {name for name in names if name.lower() not in PROMQL_WORDS}


def _alert_rules() -> list[dict[str, Any]]:
    config = yaml.safe_load(ALERTS_YML.read_text())
    rules = [rule for group in config["groups"] for rule in group["rules"]]
    assert rules and all(group["name"] and group["rules"] for group in config["groups"])
    return rules


def test_the_exported_metric_names_are_found() -> None:
    series = _exported_series()
    for name in ("pdm_http_request_duration_seconds_bucket", "pdm_queue_depth", "pdm_predictions_stored_total",
                 "pdm_celery_task_failures_total", "pdm_celery_tasks_finished_total", "pdm_jobs_finished_total",
                 "pdm_beat_last_publish_timestamp_seconds", "pdm_mqtt_messages_received_total",
                 "pdm_mqtt_messages_rejected_total", "pdm_ingest_rows_stored_total", "pdm_machines_scorable",
                 "pdm_scoring_last_run_timestamp_seconds"):
        assert name in series, name
    assert "pdm_queue_depth_total" not in series and "pdm_predictions_stored" not in series
    assert _metric_names('sum by (le, queue) (rate(a_b{status=~"5..", x="y z"}[5m])) / on(q) c > 0.5 unless '
                         "histogram_quantile(0.95, d_bucket) and time() - e offset 1h") == {"a_b", "c", "d_bucket", "e"}


def test_alert_rules_are_complete_and_use_exported_metrics() -> None:
    exported, names = _exported_series(), set()
    rules = _alert_rules()
    for rule in rules:
        name = rule.get("alert")
        assert name and re.fullmatch(r"[A-Z][A-Za-z0-9]+", name), rule
        assert isinstance(rule.get("expr"), str) and rule["expr"].strip(), name
        assert re.fullmatch(r"\d+[smh]", str(rule.get("for", ""))), f"{name}: `for` missing or not a duration"
        assert rule.get("labels", {}).get("severity") in {"warning", "critical"}, name
        assert rule.get("annotations", {}).get("summary"), name
        assert rule["expr"].count("(") == rule["expr"].count(")"), name
        used = _metric_names(rule["expr"])
        assert used, f"{name} uses no metric"
        unknown = {metric for metric in used if metric not in exported and not STANDARD_METRICS.fullmatch(metric)}
        assert not unknown, f"{name} uses metrics nobody exports: {sorted(unknown)}"
        names.add(name)
    assert len(names) == len(rules), "alert names repeat"
    expressions = " ".join(rule["expr"] for rule in rules)
    # What docs/monitoring.md promises to alert on.
    for needle in ('status=~"5.."', "histogram_quantile(0.95", "pdm_celery_task_failures_total", "by (queue)",
                   "pdm_queue_depth", "up == 0", "pdm_predictions_stored_total"):
        assert needle in expressions, needle


def test_the_predictions_alert_needs_scorable_machines() -> None:
    """Not "stored some yesterday, none this hour": scorable machines (now, an hour ago, from a run
    within the hour) and no prediction in the hour, per tenant."""
    (rule,) = [rule for rule in _alert_rules() if rule["alert"] == "PdmNoPredictionsStored"]
    expr = " ".join(rule["expr"].split())
    assert _metric_names(expr) == {"pdm_machines_scorable", "pdm_scoring_last_run_timestamp_seconds",
                                   "pdm_predictions_stored_total"}
    assert "max by (tenant) (pdm_machines_scorable) > 0" in expr
    assert "max by (tenant) (pdm_machines_scorable offset 1h) > 0" in expr
    assert "time() - max by (tenant) (pdm_scoring_last_run_timestamp_seconds) < 3600" in expr
    assert expr.index(" unless ") > expr.index("pdm_scoring_last_run_timestamp_seconds"), "unless must come last"
    assert expr.endswith("unless sum by (tenant) (increase(pdm_predictions_stored_total[1h])) > 0")
    assert "1d" not in expr, "the old approximation (stored predictions in the last day) is gone"


def test_prometheus_loads_the_alert_rules() -> None:
    config = yaml.safe_load(PROMETHEUS_YML.read_text())
    target = _container_path("prometheus", ALERTS_YML)
    assert config["rule_files"] == [target]
    assert Path(target).parent == Path(_container_path("prometheus", PROMETHEUS_YML)).parent


# --- Alertmanager (docker/alertmanager/) ---------------------------------------------------------

ALERTMANAGER = DOCKER / "alertmanager"
ALERTMANAGER_TEMPLATE = ALERTMANAGER / "alertmanager.yml"
ALERTMANAGER_RENDER = ALERTMANAGER / "render.sh"
PLACEHOLDER = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _alertmanager_port() -> int:
    """The container port compose publishes for Alertmanager (on the host's loopback only)."""
    (published,) = _services()["alertmanager"]["ports"]
    address, host_port, container_port = str(published).split(":")
    assert address == "127.0.0.1" and host_port == container_port, published
    return int(container_port)


def _alertmanager_data() -> str:
    """Where compose mounts Alertmanager's named volume: its storage, the rendered config, the secrets."""
    for mount in _services()["alertmanager"]["volumes"]:
        source, target = str(mount).split(":")[:2]
        if source in (_compose().get("volumes") or {}):
            return target
    raise AssertionError("alertmanager has no named volume")


def _seconds(duration: str) -> int:
    parts = re.findall(r"(\d+)([smhd])", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, duration
    return sum(int(n) * DURATION_UNITS[u] for n, u in parts)


def _render(tmp_path: Path, **env: str) -> tuple[dict[str, Any], Path]:
    """Run render.sh as the container does, with only `env`; the parsed config and its folder."""
    if shutil.which("sh") is None or shutil.which("awk") is None:
        pytest.skip("render.sh needs sh and awk")
    folder = tmp_path / "rendered"
    folder.mkdir()
    done = subprocess.run(["sh", str(ALERTMANAGER_RENDER), str(ALERTMANAGER_TEMPLATE), str(folder)],
                          env={"PATH": os.environ["PATH"], **env}, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    config = yaml.safe_load((folder / "alertmanager.yml").read_text())
    assert isinstance(config, dict)
    return config, folder


MAIL = {"DJANGO_EMAIL_HOST": "smtp.example.com", "DJANGO_EMAIL_PORT": "587", "DJANGO_EMAIL_USE_TLS": "true",
        "DJANGO_DEFAULT_FROM_EMAIL": "PDM SaaS <no-reply@pdm.example.com>"}


def test_compose_runs_a_pinned_alertmanager_with_its_config_and_data() -> None:
    service = _services()["alertmanager"]
    assert re.fullmatch(r"prom/alertmanager:v\d+\.\d+\.\d+", service["image"]), service["image"]
    assert "env_file" not in service, "Alertmanager needs the mail settings, not the application's secrets"
    folder = _container_path("alertmanager", ALERTMANAGER)
    data = _alertmanager_data()
    script = " ".join(_command(service))
    assert f"sh {folder}/render.sh {folder}/alertmanager.yml {data} &&" in script
    assert f"exec /bin/alertmanager --config.file={data}/alertmanager.yml" in script
    assert f"--storage.path={data}" in script and "--cluster.listen-address= " in script + " "
    healthcheck = service["healthcheck"]["test"]
    assert healthcheck[:2] == ["CMD", "wget"] and healthcheck[-1] == f"http://127.0.0.1:{_alertmanager_port()}/-/healthy"
    assert "alertmanager" in (_services()["prometheus"].get("depends_on") or [])


def test_prometheus_sends_alerts_to_the_compose_alertmanager() -> None:
    config = yaml.safe_load(PROMETHEUS_YML.read_text())
    (manager,) = config["alerting"]["alertmanagers"]
    targets = [str(target) for static in manager["static_configs"] for target in static["targets"]]
    assert targets == [f"alertmanager:{_alertmanager_port()}"]
    assert "alertmanager" in _services()


def test_the_alertmanager_template_is_yaml_with_a_route_and_receivers() -> None:
    config = yaml.safe_load(ALERTMANAGER_TEMPLATE.read_text())
    names = {receiver["name"] for receiver in config["receivers"]}
    route = config["route"]
    assert route["receiver"] in names and all(child["receiver"] in names for child in route.get("routes", []))
    assert set(route["group_by"]) == {"alertname", "severity"}
    (critical,) = [child for child in route["routes"] if child["matchers"] == ['severity="critical"']]
    assert _seconds(critical["repeat_interval"]) < _seconds(route["repeat_interval"]), "critical repeats more often"
    (inhibit,) = config["inhibit_rules"]
    assert inhibit == {"source_matchers": ['severity="critical"'], "target_matchers": ['severity="warning"'],
                       "equal": ["alertname"]}
    severities = {rule["labels"]["severity"] for rule in _alert_rules()}
    assert severities == {"warning", "critical"}, "the route and the inhibition match on these values"


def test_alertmanager_reads_only_documented_variables_that_compose_passes() -> None:
    service, env = _services()["alertmanager"], _env_example()
    lines = ALERTMANAGER_TEMPLATE.read_text().splitlines()
    used = set(PLACEHOLDER.findall("\n".join(line for line in lines if not line.lstrip().startswith("#"))))
    script = ALERTMANAGER_RENDER.read_text()
    used |= set(re.findall(r'ENVIRON\["([A-Z_][A-Z0-9_]*)"\]', script))
    used |= set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*):-", script))
    assert {"ALERTMANAGER_EMAIL_TO", "ALERTMANAGER_WEBHOOK_URL", "DJANGO_EMAIL_HOST"} <= used
    assert used - set(env) == set(), f"not in .env.example: {sorted(used - set(env))}"
    assert set(service["environment"]) == used
    for name, value in service["environment"].items():
        assert value == f"${{{name}:-}}", f"{name}: passed from docker/.env, empty when unset"
    assert env["ALERTMANAGER_EMAIL_TO"] == "" and env["ALERTMANAGER_WEBHOOK_URL"] == "", "receivers are opt-in"


def test_rendered_without_receivers_alertmanager_still_starts(tmp_path: Path) -> None:
    config, folder = _render(tmp_path)
    assert config["receivers"] == [{"name": "operators"}], "a receiver with no integration: alerts stay in the UI"
    assert set(config["global"]) == {"resolve_timeout"}
    assert (folder / "smtp-password").read_text() == "" and (folder / "webhook-url").read_text() == ""


def test_rendered_with_email_and_webhook(tmp_path: Path) -> None:
    secret, hook = "change-me-&|\\pass", "https://hooks.example.com/pdm?token=change-me&x=1"
    to = 'ops@pdm.example.com, "On call" <oncall@pdm.example.com>'
    config, folder = _render(tmp_path, **MAIL, DJANGO_EMAIL_HOST_USER="alerts", DJANGO_EMAIL_HOST_PASSWORD=secret,
                             ALERTMANAGER_EMAIL_TO=to, ALERTMANAGER_WEBHOOK_URL=hook)
    data = _alertmanager_data()
    assert config["global"] == {
        "resolve_timeout": "5m", "smtp_smarthost": "smtp.example.com:587", "smtp_require_tls": True,
        "smtp_from": "PDM SaaS <no-reply@pdm.example.com>", "smtp_auth_username": "alerts",
        "smtp_auth_password_file": f"{data}/smtp-password"}
    (receiver,) = config["receivers"]
    assert receiver["email_configs"] == [{"to": to, "send_resolved": True}]
    assert receiver["webhook_configs"] == [{"url_file": f"{data}/webhook-url", "send_resolved": True}]
    rendered = (folder / "alertmanager.yml").read_text()
    assert secret not in rendered and hook not in rendered, "secrets go to files, not into the config"
    assert (folder / "smtp-password").read_text() == secret and (folder / "webhook-url").read_text() == hook


def test_rendered_email_without_smtp_login_and_without_tls(tmp_path: Path) -> None:
    config, _ = _render(tmp_path, **{**MAIL, "DJANGO_EMAIL_USE_TLS": "false"}, ALERTMANAGER_EMAIL_TO="ops@x.test")
    assert config["global"]["smtp_require_tls"] is False
    assert "smtp_auth_username" not in config["global"] and "smtp_auth_password_file" not in config["global"]
    assert "webhook_configs" not in config["receivers"][0]


def test_render_refuses_email_without_a_mail_server(tmp_path: Path) -> None:
    if shutil.which("sh") is None or shutil.which("awk") is None:
        pytest.skip("render.sh needs sh and awk")
    done = subprocess.run(["sh", str(ALERTMANAGER_RENDER), str(ALERTMANAGER_TEMPLATE), str(tmp_path)],
                          env={"PATH": os.environ["PATH"], "ALERTMANAGER_EMAIL_TO": "ops@x.test"},
                          capture_output=True, text=True, timeout=30)
    assert done.returncode != 0 and "DJANGO_EMAIL_HOST is empty" in done.stderr
    assert not (tmp_path / "alertmanager.yml").exists()

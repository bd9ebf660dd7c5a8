"""The Dockerfile, compose file and nginx configuration, checked as far as can be without a Docker engine.

The compose file parses and wires PostgreSQL, two workers and the proxy; the README names its commands and
variables; the image's default command, run as a real process, refuses to listen without a token.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import tomllib
from typing import Any

import yaml

from tests.support import PYTHON, ROOT, subprocess_env

COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()
NGINX = (ROOT / "deploy" / "nginx.conf").read_text()
README = (ROOT / "README.md").read_text()
WORKERS = ["worker-1", "worker-2"]


def team_section() -> str:
    match = re.search(r"^## Running for a team\n(.*?)(?=^## )", README, re.S | re.M)
    assert match, 'README has no "Running for a team" section'
    return match.group(1)


def instruction(name: str) -> list[Any]:
    found = re.findall(rf"^{name} (.+)$", DOCKERFILE, re.M)
    assert found, f"no {name} in the Dockerfile"
    return yaml.safe_load(found[-1])  # type: ignore[no-any-return]  # the JSON (exec) form


def test_compose_wires_postgres_two_workers_and_a_proxy() -> None:
    services = COMPOSE["services"]
    assert set(services) == {"db", *WORKERS, "proxy"}
    assert services["db"]["image"].startswith("postgres:")
    for name in WORKERS:
        worker = services[name]
        env = worker["environment"]
        assert (
            env["CASEBRIDGE_DATABASE_URL"].startswith("postgresql://") and "@db:5432/" in env["CASEBRIDGE_DATABASE_URL"]
        )
        assert {"CASEBRIDGE_OAUTH_ISSUER", "CASEBRIDGE_RESOURCE_URL"} <= set(env)
        assert "--sandbox" not in worker["command"] and "0.0.0.0" in worker["command"]
        assert worker["depends_on"]["db"]["condition"] == "service_healthy"
        assert "/readyz" in " ".join(worker["healthcheck"]["test"])
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in services["proxy"]["volumes"]
    for name in WORKERS:
        assert f"server {name}:8000" in NGINX
    assert "proxy_buffering off" in NGINX  # server-sent events pass straight through


def test_readme_names_the_commands_and_every_variable() -> None:
    section = team_section()
    assert "docker compose --env-file deploy/team.env up -d --build" in section
    assert "docker run" in section and "CASEBRIDGE_HTTP_TOKEN" in section
    variables = set(re.findall(r"\$\{([A-Z_]+)", (ROOT / "compose.yaml").read_text()))
    missing = [v for v in sorted(variables) if v not in section]
    assert not missing, f"README's team section does not name {missing}"
    example = (ROOT / "deploy" / "team.env.example").read_text()
    required = set(re.findall(r"\$\{([A-Z_]+):\?", (ROOT / "compose.yaml").read_text()))
    assert all(re.search(rf"^{v}=", example, re.M) for v in required)


def test_the_image_is_slim_non_root_and_installs_what_exists() -> None:
    assert re.search(r"^FROM python:3\.\d+-slim\b", DOCKERFILE, re.M)
    user = re.findall(r"^USER (\S+)", DOCKERFILE, re.M)
    assert user and not user[-1].startswith(("root", "0"))
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE, re.M):
        for path in source.split():
            assert (ROOT / path).exists(), f"the Dockerfile copies {path}, which is missing"
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for extra in re.findall(r'pip install "\.\[(\w+)\]"', DOCKERFILE):
        assert extra in extras
    assert instruction("ENTRYPOINT") == ["casebridge"]
    assert "--sandbox" in instruction("CMD")


def test_the_default_command_refuses_to_listen_without_a_token() -> None:
    """The decision for the sandbox image: no token, no listening on 0.0.0.0 (the message says what to set)."""
    command = instruction("ENTRYPOINT") + instruction("CMD")
    done = subprocess.run(
        [PYTHON, "-m", "server", *command[1:]],
        env=subprocess_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, shlex.join(command)
    assert "CASEBRIDGE_HTTP_TOKEN" in done.stderr and "0.0.0.0" in done.stderr

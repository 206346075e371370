"""The deployment (deploy/): compose.yaml is a valid Compose file by the Compose Specification's own JSON schema
(tests/data/compose-spec, Apache 2.0), and it says what the README promises: several newsbot replicas behind
nginx, PostgreSQL, and OpenSearch with its security plugin on, newsbot pointed at both with every OPENSEARCH_*
setting; the Dockerfile runs ``newsbot run`` with the postgres extra; nginx passes the webhook to the replicas'
port. No Docker engine is needed (nor run)."""

from __future__ import annotations

import json
import re

import jsonschema
import yaml

from .conftest import ROOT

DEPLOY = ROOT / "deploy"
SCHEMA = ROOT / "tests" / "data" / "compose-spec" / "compose-spec.json"


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def test_compose_file_is_valid_by_the_compose_specifications_schema():
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(compose()), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_an_invalid_compose_file_is_caught_by_the_schema():
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    broken = compose()
    broken["services"]["newsbot"]["deploy"]["replicas"] = {"three": 3}
    broken["services"]["nginx"]["ports"] = "8080:80"
    assert len(list(jsonschema.Draft7Validator(schema).iter_errors(broken))) == 2


def test_several_replicas_behind_nginx_with_postgresql_and_a_secured_opensearch():
    services = compose()["services"]
    assert set(services) == {"newsbot", "nginx", "postgres", "opensearch"}
    bot = services["newsbot"]
    assert bot["deploy"]["replicas"] == "${NEWSBOT_REPLICAS:-3}"
    env = bot["environment"]
    assert env["SEARCH_BACKEND"] == "opensearch"
    assert env["OPENSEARCH_URL"].startswith("https://opensearch:9200"), "TLS: the security plugin is on"
    assert {"OPENSEARCH_USERNAME", "OPENSEARCH_PASSWORD", "OPENSEARCH_CA_CERTS"} <= set(env)
    assert env["DATABASE_URL"].startswith("postgresql://newsbot:${POSTGRES_PASSWORD")
    assert "@postgres:5432/newsbot" in env["DATABASE_URL"]
    search = services["opensearch"]["environment"]
    assert "DISABLE_SECURITY_PLUGIN" not in search
    assert "plugins.security.disabled" not in search
    assert "OPENSEARCH_INITIAL_ADMIN_PASSWORD" in search
    assert set(bot["depends_on"]) == {"postgres", "opensearch"}
    assert "/readyz" in " ".join(bot["healthcheck"]["test"])


def test_nginx_passes_the_webhook_path_to_the_replicas_port():
    conf = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    port = re.search(r"WEBHOOK_PORT=(\d+)", dockerfile).group(1)
    assert f"server newsbot:{port};" in conf
    example = (DEPLOY / ".env.example").read_text(encoding="utf-8")
    path = re.search(r"^WEBHOOK_URL=https://[^/]+(/\S*)$", example, re.MULTILINE).group(1)
    location = re.search(r"location (\S+) \{", conf).group(1)
    assert path.startswith(location), "the webhook's path is proxied"


def test_every_variable_the_compose_file_needs_is_in_its_env_example():
    text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    needed = set(re.findall(r"\$\{([A-Z_]+)", text))
    example = (DEPLOY / ".env.example").read_text(encoding="utf-8")
    listed = set(re.findall(r"^([A-Z_]+)=", example, re.MULTILINE))
    assert needed == listed


def test_the_image_runs_the_bot_with_the_postgres_extra_as_an_unprivileged_user():
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert "'.[postgres]'" in dockerfile
    assert re.search(r"^USER newsbot$", dockerfile, re.MULTILINE)
    assert dockerfile.rstrip().endswith('CMD ["newsbot", "run"]')

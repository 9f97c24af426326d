"""``esb config``: the effective settings, with every secret masked."""

from __future__ import annotations

import orjson

from tests.esb_processes import Deployment, esb


def test_config_prints_one_json_object_with_secrets_masked(deployment: Deployment) -> None:
    env = deployment.env(
        ESB_BROKER_URL="amqp://esb:s3cret@rabbit.example:5672/telecom",
        ESB_DATABASE_URL="postgresql+psycopg://esb:s3cret@db.example/esb",
        ESB_JOURNAL__HASH_SECRET="s3cret",
    )

    result = esb("config", "--json", env=env)

    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    settings = orjson.loads(line)
    assert settings["broker_url"] == "amqp://esb:****@rabbit.example:5672/telecom"
    assert settings["database_url"] == "postgresql+psycopg://esb:****@db.example/esb"
    assert settings["journal"]["hash_secret"] == "****"
    assert settings["api"]["port"] == deployment.port
    assert "s3cret" not in result.stdout + result.stderr

"""MQTT broker logins through the API and the command: admins only, per tenant, shown once."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from tenants.models import MqttCredential
from tenants.mqtt import mosquitto_password_check


def test_admin_creates_lists_and_revokes(client_for, world):
    admin = client_for("admin")
    created = admin.post("/api/v1/mqtt-credentials/")
    assert created.status_code == 201
    body = created.json()
    assert body["credential"]["topic"] == "pdm/acme/readings"
    stored = MqttCredential.objects.get(id=body["credential"]["id"])
    assert mosquitto_password_check(body["password"], stored.password_hash)
    assert body["password"] not in stored.password_hash
    listed = admin.get("/api/v1/mqtt-credentials/").json()["results"]
    assert [c["username"] for c in listed] == [stored.username] and "password" not in listed[0]
    revoked = admin.post(f"/api/v1/mqtt-credentials/{stored.id}/revoke/")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]


def test_other_tenants_and_non_admins_are_refused(client_for, key_client, world):
    credential = client_for("admin").post("/api/v1/mqtt-credentials/").json()["credential"]
    assert client_for("engineer").get("/api/v1/mqtt-credentials/").status_code == 403
    globex = key_client(["admin"], tenant=world.globex, host="acme.localhost")
    assert globex.get("/api/v1/mqtt-credentials/").json()["count"] == 0
    assert globex.post(f"/api/v1/mqtt-credentials/{credential['id']}/revoke/").status_code == 404
    assert MqttCredential.objects.get(id=credential["id"]).revoked_at is None


def test_command(world, db, capsys):
    call_command("mqtt_credentials", "--tenant", "globex", "create")
    out = capsys.readouterr().out
    assert "username: globex" in out and "password: " in out and "pdm/globex/readings" in out
    credential = MqttCredential.objects.get(tenant=world.globex)
    call_command("mqtt_credentials", "--tenant", "globex", "revoke", str(credential.id))
    credential.refresh_from_db()
    assert credential.revoked_at is not None
    with pytest.raises(CommandError):
        call_command("mqtt_credentials", "--tenant", "acme", "revoke", str(credential.id))  # not acme's

"""A tenant's MQTT broker logins: list, create (prints the password once), revoke. Run
`mqtt_sync` afterwards so the broker picks the change up."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pdm_saas.errors import ServiceError
from tenants import mqtt
from tenants.command_line import command_error, tenant_or_error
from tenants.models import MqttCredential


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True)
        parser.add_argument("action", choices=["list", "create", "revoke"])
        parser.add_argument("credential_id", nargs="?", type=int)

    def handle(self, *args: Any, tenant: str, action: str, credential_id: int | None, **options: Any) -> None:
        found = tenant_or_error(tenant)
        if action == "list":
            for credential in MqttCredential.objects.filter(tenant=found):
                state = "revoked" if credential.revoked_at else "active"
                self.stdout.write(f"{credential.id:5} {credential.username:40} {state}")
        elif action == "create":
            credential, password = mqtt.mqtt_credential_create(tenant=found)
            self.stdout.write(f"username: {credential.username}\npassword: {password}\n"
                              f"topic:    {mqtt.readings_topic(found.slug)}\n(shown once; run mqtt_sync)")
        else:
            if credential_id is None:
                raise CommandError("revoke needs the credential id (see list).")
            try:
                mqtt.mqtt_credential_revoke(tenant=found, credential_id=credential_id)
            except ServiceError as exc:
                raise command_error(exc) from exc
            self.stdout.write("Revoked; run mqtt_sync to apply.")

"""Write Mosquitto's password and ACL files from the active MQTT credentials; with
--reload-pid, tell that mosquitto to re-read them (SIGHUP)."""

from __future__ import annotations

import os
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.mqtt import mqtt_acl_file_write, mqtt_password_file_write


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--reload-pid", type=int, help="process id of the mosquitto to send SIGHUP to")

    def handle(self, *args: Any, reload_pid: int | None = None, **options: Any) -> None:
        if not settings.PDM_MQTT_BRIDGE_PASSWORD:
            self.stderr.write("PDM_MQTT_BRIDGE_PASSWORD is empty: the bridge's user is left out.")
        users = mqtt_password_file_write(settings.PDM_MQTT_PASSWORD_FILE)
        mqtt_acl_file_write(settings.PDM_MQTT_ACL_FILE)
        self.stdout.write(f"Wrote {users} user(s) to {settings.PDM_MQTT_PASSWORD_FILE} and the ACL to "
                          f"{settings.PDM_MQTT_ACL_FILE}.")
        if reload_pid is not None:
            try:
                os.kill(reload_pid, signal.SIGHUP)
            except ProcessLookupError as exc:
                raise CommandError(f"No process {reload_pid} to reload.") from exc
            self.stdout.write(f"Sent SIGHUP to {reload_pid}.")

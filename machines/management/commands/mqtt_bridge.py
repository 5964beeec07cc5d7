"""Run the MQTT bridge: store readings published to pdm/<slug>/readings (docs/ingest.md, "MQTT")."""

from __future__ import annotations

import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from machines.mqtt_bridge import Bridge


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.PDM_MQTT_BRIDGE_PASSWORD:
            raise CommandError("Set PDM_MQTT_BRIDGE_PASSWORD (and run `manage.py mqtt_sync`) first.")
        bridge = Bridge()
        # SIGTERM (docker stop, the test helper) ends loop_forever cleanly instead of mid-message.
        signal.signal(signal.SIGTERM, lambda signum, frame: bridge.stop())
        bridge.run()

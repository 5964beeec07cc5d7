"""Make a VAPID key pair for Web Push (docs/deploy.md, "Web Push keys").

`manage.py vapid_keys` prints a new pair: put the private key in PDM_VAPID_PRIVATE_KEY (a secret)
and keep it; a new key makes every browser's subscription useless. `manage.py vapid_keys --dev`
(run by `make run`) writes a development key to .data/vapid_private_key once, when none is set.
"""

from __future__ import annotations

import base64
import os
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from maintenance.push import vapid_public_key_of


def vapid_private_key_new() -> str:
    """A P-256 private key as base64url of its 32 raw bytes, the form PDM_VAPID_PRIVATE_KEY takes."""
    value = ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value
    return base64.urlsafe_b64encode(value.to_bytes(32, "big")).decode().rstrip("=")


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dev", action="store_true",
                            help="write a development key to .data/vapid_private_key unless one exists or is set")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["dev"]:
            self._dev_key()
            return
        private = vapid_private_key_new()
        self.stdout.write(f"PDM_VAPID_PRIVATE_KEY={private}\n# public key (browsers subscribe with it): "
                          f"{vapid_public_key_of(private)}")

    def _dev_key(self) -> None:
        path = settings.PUSH_VAPID_DEV_KEY_FILE
        if settings.PUSH_VAPID_PRIVATE_KEY or path.is_file():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(vapid_private_key_new() + "\n")
        self.stdout.write(f"Web Push: a development VAPID key in {path}")

"""The web and API processes never load the heavy ML stack (torch, SDV, SHAP): it would add
seconds and hundreds of megabytes to every web worker's start-up."""

from __future__ import annotations

import subprocess
import sys

from tests.live import ROOT, child_env

HEAVY = ("torch", "sdv", "sdmetrics", "shap", "ctgan")


def test_the_asgi_application_and_every_url_conf_load_without_the_heavy_stack():
    probe = (
        "import sys, django; django.setup();"
        "import pdm_saas.asgi, pdm_saas.urls_tenant, pdm_saas.urls_public;"
        "from django.urls import get_resolver; get_resolver('pdm_saas.urls_tenant').url_patterns;"
        "import predictions.api, predictions.services.scoring, predictions.services.training;"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=child_env(), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "", f"loaded at start-up: {done.stdout.strip()}"

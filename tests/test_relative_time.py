"""The `relative_time` filter: the words it writes (the same as static/js/relative_time.js, which
re-words them in the page) and the machine-readable timestamp the script reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.template import Context, Template

from pdm_saas.relative_time import phrase

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # the page is rendered at this instant


@pytest.mark.parametrize(("seconds", "words"), [
    (0, "just now"), (59, "just now"), (60, "1 minute ago"), (119, "1 minute ago"), (5 * 60, "5 minutes ago"),
    (3600, "1 hour ago"), (26 * 3600, "1 day ago"), (8 * 86400, "1 week ago"), (45 * 86400, "1 month ago"),
    (800 * 86400, "2 years ago"), (-30, "in under a minute"), (-2 * 86400, "in 2 days"),
])
def test_phrase(seconds, words):
    assert phrase(seconds) == words


def test_the_filter_writes_the_timestamp_the_script_reads():
    template = Template("{% load relative_time %}{{ when|relative_time }}|{{ never|relative_time:'never' }}"
                        "|{{ row.missing|relative_time:'-' }}")
    with time_machine.travel(NOW, tick=False):
        html = template.render(Context({"when": NOW - timedelta(minutes=5), "never": None, "row": None}))
    assert html == ('<time datetime="2026-03-02T08:55:00+00:00" data-relative title="2026-03-02 08:55 UTC">'
                    "5 minutes ago</time>|never|-")


def test_the_api_keys_page_says_when_a_key_was_last_used(client_for, world):
    from accounts.models import ApiKey
    from accounts.services import api_key_create

    key = api_key_create(tenant=world.acme, name="SCADA gateway", scopes=["read"], created_by_id=None).key
    ApiKey.objects.filter(id=key.id).update(last_used_at=NOW - timedelta(hours=3))
    with time_machine.travel(NOW, tick=False):
        html = client_for("admin").get("/accounts/api-keys/").content.decode()
    assert 'datetime="2026-03-02T06:00:00+00:00" data-relative' in html and "3 hours ago" in html

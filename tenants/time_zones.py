"""The time zones an organization can choose: IANA names ("Europe/Berlin"), as the reading
store's parser (pyarrow) and Python's zoneinfo both know them."""

from __future__ import annotations

from functools import cache
from zoneinfo import available_timezones

DEFAULT = "UTC"


@cache
def time_zones() -> frozenset[str]:
    # Legacy aliases ("US/Eastern", "Etc/GMT+5") are left out: their names mislead (Etc/GMT+5 is
    # five hours *behind* UTC) and a region/city name says the same.
    return frozenset(name for name in available_timezones()
                     if "/" in name and not name.startswith(("Etc/", "SystemV/", "US/")) or name == DEFAULT)


def time_zone_choices() -> list[tuple[str, str]]:
    """(value, label) for a select, UTC first, then by name."""
    names = sorted(time_zones() - {DEFAULT})
    return [(DEFAULT, DEFAULT), *((name, name.replace("_", " ")) for name in names)]

"""Configuration in and out (docs/web.md, "Configuration in and out"): an organization's machine
types, machines, alert rules, checklist templates and preventive (PM) plans as one versioned JSON
file, and that file imported into another organization: validated whole first, rehearsed by a dry
run, applied all or nothing through each app's own services.

It lives in `pdm_saas` because it is the one layer that may import every app (docs/architecture.md):
the file spans machines, maintenance and planning, and `machines` may not reach up into the others.
"""

"""Prometheus monitoring (docs/monitoring.md).

- `metrics`: the application's own metrics and the one-line recorders the services call.
- `web`: request metrics middleware (django-prometheus) and the protected `/metrics` view.
- `worker`: Celery task metrics from signals, and the metrics HTTP servers of workers and beat.
- `fleet`: what scheduled scoring should score, counted when each scheduled run starts.
"""

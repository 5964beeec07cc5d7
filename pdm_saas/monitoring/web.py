"""`/metrics` on the public host, and the request metrics behind it.

Request metrics come from django-prometheus' middleware pair (its `django_http_*` series: latency
per view and method, responses per status, view and method...), plus one histogram of our own
with the status beside the route, which the library's latency histogram lacks. The "before"
half sits right after the tenant routing middleware, which must stay first; the "after" half
is last. Requests that routing answers itself (unknown host, bad API key) are not counted.

Access (docs/monitoring.md): with `PDM_METRICS_TOKEN` set, only `Authorization: Bearer <token>`
is served. Without it, only clients on loopback or private addresses that did not come through
a proxy (no forwarding header) are: never the public internet by default.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Iterator

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django_prometheus.conf import PROMETHEUS_LATENCY_BUCKETS
from django_prometheus.middleware import Metrics, PrometheusAfterMiddleware, PrometheusBeforeMiddleware
from django_prometheus.utils import TimeSince
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from accounts.keys import bearer_token
from pdm_saas.api.errors import error_json

logger = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
FORWARDING_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")
# kombu's Redis transport keeps priorities 3, 6 and 9 of a queue in lists of their own.
PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")


class RequestMetrics(Metrics):
    _instance = None  # a singleton of its own, not the library's

    def register(self) -> None:
        super().register()
        self.requests_latency_by_route = self.register_metric(
            Histogram, "pdm_http_request_duration_seconds",
            "Request processing time per route (URL pattern name), method and status.",
            ["view", "method", "status"], buckets=PROMETHEUS_LATENCY_BUCKETS)


class RequestMetricsBeforeMiddleware(PrometheusBeforeMiddleware):
    metrics_cls = RequestMetrics


class RequestMetricsAfterMiddleware(PrometheusAfterMiddleware):
    metrics_cls = RequestMetrics

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        response = super().process_response(request, response)
        started = getattr(request, "prometheus_after_middleware_event", None)
        if started is not None:
            self.metrics.requests_latency_by_route.labels(
                view=self._get_view_name(request), method=self._method(request), status=str(response.status_code),
            ).observe(TimeSince(started))
        return response


class QueueDepthCollector(Collector):
    """Messages waiting in each Celery queue, read from the broker's Redis at scrape time."""

    def describe(self) -> list[GaugeMetricFamily]:
        return [self._family()]  # without samples: registering must not touch Redis

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = self._family()
        try:
            client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2, socket_connect_timeout=2)
            with client.pipeline(transaction=False) as pipe:
                for queue in settings.JOB_QUEUES:
                    for suffix in PRIORITY_SUFFIXES:
                        pipe.llen(queue + suffix)
                lengths = pipe.execute()
        except (redis.RedisError, ValueError) as exc:
            logger.warning("queue depth not collected: %s", exc)
            return  # no samples: the gap shows on the dashboard, and the scrape still succeeds
        step = len(PRIORITY_SUFFIXES)
        for index, queue in enumerate(settings.JOB_QUEUES):
            family.add_metric([queue], float(sum(lengths[index * step:(index + 1) * step])))
        yield family

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily("pdm_queue_depth", "Messages waiting in each Celery queue (broker).",
                                 labels=["queue"])


QUEUE_DEPTH = QueueDepthCollector()
REGISTRY.register(QUEUE_DEPTH)  # web only: one process reports the broker, not every worker


def metrics_access_problem(request: HttpRequest) -> tuple[int, str, str] | None:
    """(status, code, message) when this request may not read the metrics, else None."""
    token: str = settings.PDM_METRICS_TOKEN
    if token:
        given = bearer_token(request.headers.get("Authorization", ""))
        if given is None or not hmac.compare_digest(given.encode(), token.encode()):
            return 401, "authentication_failed", "The metrics need `Authorization: Bearer <PDM_METRICS_TOKEN>`."
        return None
    refusal = (403, "permission_denied",
               "Without PDM_METRICS_TOKEN the metrics are only served to loopback and private addresses "
               "reached directly; set PDM_METRICS_TOKEN to scrape from elsewhere.")
    if any(request.META.get(header) for header in FORWARDING_HEADERS):
        return refusal  # through a proxy, the private address is the proxy's, not the client's
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR") or "")
    except ValueError:
        return refusal
    return None if (address.is_loopback or address.is_private) else refusal


def metrics_view(request: HttpRequest) -> HttpResponse:
    problem = metrics_access_problem(request)
    if problem is not None:
        status, code, message = problem
        response = error_json(status_code=status, code=code, message=message)
        if status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)

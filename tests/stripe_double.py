"""A local HTTP test double of the Stripe endpoints billing uses, for offline tests.

The official `stripe` library talks to it unchanged (settings.STRIPE_API_BASE points here). It
answers like Stripe for what we call: JSON objects with `id`, `object`, `url`...; form-encoded
bodies parsed into nested dicts and lists (`line_items[0][price]=...`); the `Idempotency-Key`
header honoured (same key, same answer, nothing created twice); a meter event whose
`identifier` it has seen before refused with Stripe's own 400. Every request is recorded.

`signature_header` signs a webhook payload with Stripe's scheme: `t=<unix time>,v1=<hex
HMAC-SHA256 of "<t>.<payload>" keyed with the endpoint secret>`.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

API_KEY_PREFIX = "sk_test_"


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, Any]
    headers: dict[str, str]


@dataclass
class StripeDouble:
    """State of the fake Stripe account; the HTTP handler reads and writes it under `lock`."""

    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    meter_events: list[dict[str, Any]] = field(default_factory=list)
    canceled_subscriptions: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _idempotent: dict[tuple[str, str, str], tuple[int, dict[str, Any]]] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=itertools.count)  # type: ignore[type-arg]

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.customers.clear()
            self.meter_events.clear()
            self.canceled_subscriptions.clear()
            self._idempotent.clear()

    def calls(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    def metered_total(self, customer_id: str) -> int:
        return sum(int(e["payload"]["value"]) for e in self.meter_events
                   if e["payload"]["stripe_customer_id"] == customer_id)

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_test{next(self._ids):06d}"

    # --- endpoints: (status, body) ----------------------------------------------------------

    def handle(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method == "POST" and path == "/v1/customers":
            return self._customer(params)
        if method == "POST" and path == "/v1/checkout/sessions":
            return self._checkout(params)
        if method == "POST" and path == "/v1/billing_portal/sessions":
            return self._portal(params)
        if method == "POST" and path == "/v1/billing/meter_events":
            return self._meter_event(params)
        cancel = re.fullmatch(r"/v1/subscriptions/([\w-]+)", path)
        if method == "DELETE" and cancel:
            return self._cancel(cancel.group(1))
        return _error(404, f"Unrecognized request URL ({method}: {path}).")

    def _customer(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        customer = {"id": self.new_id("cus"), "object": "customer", "name": params.get("name"),
                    "metadata": params.get("metadata", {}), "created": int(time.time()), "livemode": False}
        self.customers[customer["id"]] = customer
        return 200, customer

    def _checkout(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if params.get("customer") not in self.customers:
            return _error(400, f"No such customer: '{params.get('customer')}'", param="customer")
        if not params.get("line_items"):
            return _error(400, "line_items is required in subscription mode.", param="line_items")
        session_id = self.new_id("cs")
        return 200, {
            "id": session_id, "object": "checkout.session", "mode": params.get("mode"),
            "customer": params["customer"], "client_reference_id": params.get("client_reference_id"),
            "metadata": params.get("metadata", {}), "status": "open", "payment_status": "unpaid",
            "success_url": params.get("success_url"), "cancel_url": params.get("cancel_url"),
            "url": f"https://checkout.stripe.test/c/pay/{session_id}", "livemode": False,
        }

    def _portal(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if params.get("customer") not in self.customers:
            return _error(400, f"No such customer: '{params.get('customer')}'", param="customer")
        session_id = self.new_id("bps")
        return 200, {"id": session_id, "object": "billing_portal.session", "customer": params["customer"],
                     "return_url": params.get("return_url"), "url": f"https://billing.stripe.test/p/session/{session_id}",
                     "livemode": False}

    def _meter_event(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        identifier = params.get("identifier") or self.new_id("mev")
        if any(e["identifier"] == identifier for e in self.meter_events):
            # What Stripe answers (400, not retryable) for an identifier it already holds.
            return _error(400, f"An event already exists with identifier {identifier}.", param="identifier")
        event = {"object": "billing.meter_event", "event_name": params.get("event_name"), "identifier": identifier,
                 "payload": params.get("payload", {}), "timestamp": int(params.get("timestamp") or time.time()),
                 "created": int(time.time()), "livemode": False}
        self.meter_events.append(event)
        return 200, event

    def _cancel(self, subscription_id: str) -> tuple[int, dict[str, Any]]:
        if subscription_id in self.canceled_subscriptions:
            return _error(400, "A canceled subscription can only update its cancellation_details and metadata.")
        self.canceled_subscriptions.append(subscription_id)
        return 200, {"id": subscription_id, "object": "subscription", "status": "canceled"}


def _error(status: int, message: str, *, param: str | None = None) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"type": "invalid_request_error", "message": message}
    if param:
        body["param"] = param
    return status, {"error": body}


def parse_form(body: str) -> dict[str, Any]:
    """Stripe's form encoding (`a[b][0][c]=v`) back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node: Any = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    # `{"0": x, "1": y}` was a list on the way in.
    if not isinstance(node, dict):
        return node
    converted = {k: _lists(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


class _Handler(BaseHTTPRequestHandler):
    double: StripeDouble

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self._serve("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve("DELETE")

    def do_GET(self) -> None:  # noqa: N802
        self._serve("GET")

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        path, _, query = self.path.partition("?")  # DELETE and GET carry their params here
        params = parse_form(self.rfile.read(length).decode() if length else query)
        headers = {k.lower(): v for k, v in self.headers.items()}
        with self.double.lock:
            self.double.requests.append(Recorded(method, path, params, headers))
            status, body = self._answer(method, path, params, headers)
        self._send(status, body)

    def _answer(self, method: str, path: str, params: dict[str, Any],
                headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if not headers.get("authorization", "").startswith(f"Bearer {API_KEY_PREFIX}"):
            return _error(401, "Invalid API Key provided.")
        key = headers.get("idempotency-key")
        if key and (method, path, key) in self.double._idempotent:
            return self.double._idempotent[(method, path, key)]
        answer = self.double.handle(method, path, params)
        if key:
            self.double._idempotent[(method, path, key)] = answer
        return answer

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", f"req_{int(time.time() * 1000)}")
        if status == 400:
            self.send_header("Stripe-Should-Retry", "false")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's signature)
        pass  # quiet tests


def start() -> tuple[StripeDouble, ThreadingHTTPServer]:
    """Serve a fresh double on a free port of 127.0.0.1, in a daemon thread."""
    double = StripeDouble()
    handler = type("Handler", (_Handler,), {"double": double})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    double.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True, name="stripe-double").start()
    return double, server


# --- webhooks -----------------------------------------------------------------------------

_event_ids = itertools.count(1)


def stripe_event(event_type: str, obj: dict[str, Any], *, created: int | None = None,
                 event_id: str | None = None) -> dict[str, Any]:
    """An event as Stripe posts it to a webhook endpoint (snapshot payload)."""
    return {
        "id": event_id or f"evt_test{next(_event_ids):06d}", "object": "event", "api_version": "2026-10-28.endive",
        "created": created if created is not None else int(time.time()), "type": event_type,
        "data": {"object": obj}, "livemode": False, "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
    }


def signature_header(payload: str, secret: str, *, timestamp: int | None = None) -> str:
    """Stripe's `Stripe-Signature` header for `payload`, as Stripe documents it."""
    t = timestamp if timestamp is not None else int(time.time())
    digest = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"

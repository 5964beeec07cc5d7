"""Per-process caches of a tenant's rarely changing rows, invalidated across processes.

Every explained prediction used to re-read rows that change a few times a month: the alert
rules (three times), the subscription and its plan (twice), the champions' versions, the pending
challenger, the machine type's sensor slots and the type's failure events. Each read is a
Postgres round trip. They are kept here, in this process, keyed by the tenant's schema and by the
tenant's *generation*: a random token in Redis (the "rows" cache, one key per schema) that
every writer of such a row replaces after its transaction commits (`tenant_rows_changed`).

Why this is right across processes and threads:
- A reader reads the token first, then the rows. A writer replaces the token only after its
  commit, so a reader that read the old token either read the old rows (kept under the old token,
  dropped at its next look) or the new ones: never is an old row kept under the new token.
- A random token, not a counter: if Redis loses the key, the next token is new, never one that
  entries filled earlier were keyed by.
- The writer's own thread sees its uncommitted writes before the commit: from the write until its
  transaction ends the thread neither reads nor fills the cache for that schema, so a rolled-back
  write never leaves a value behind, and a committed one is followed by the new token.
- A request reads the token once (`request_scope_reset`, from the tenant routing middleware and
  request_started/finished); code outside a request (Celery, commands) reads it at every look.
- Redis unreachable: the rows are read from Postgres, as before. Entries also expire after
  `MAX_AGE_S`, which bounds staleness should a token replacement itself be lost to an outage.

Writers: post_save/post_delete of the cached models (each owning app's `ready` connects them with
`rows_watch`), and their managers' queryset updates and bulk writes (`RowsManager`), which send
no signal. Code that writes them any other way (raw SQL) calls `tenant_rows_changed`.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar

from django.core.cache import caches
from django.db import transaction
from django.db.models import Manager, Model, QuerySet
from django.db.models.signals import post_delete, post_save
from django_tenants.utils import get_public_schema_name

from tenants.db import connection

logger = logging.getLogger(__name__)

T = TypeVar("T")

TOKEN_KEY = "pdm:rows-generation"  # + ":<schema>", in the "rows" cache (settings.CACHES)
MAX_AGE_S = 300.0
MAX_ENTRIES = 4096

tokens_cache = caches["rows"]

_entries: dict[tuple[Hashable, ...], tuple[str, float, Any]] = {}
_entries_lock = threading.Lock()


class _ThreadState(threading.local):
    def __init__(self) -> None:
        self.tokens: dict[str, str] | None = None  # the request's tokens by schema; None outside one
        self.writing: dict[str, object] = {}  # schema -> the outermost atomic block that wrote


_state = _ThreadState()


def request_scope_reset(*, in_request: bool) -> None:
    """Start (or end) a request: its first look reads the tokens afresh, later ones reuse them."""
    _state.tokens = {} if in_request else None


def tenant_cached(name: str, args: tuple[Hashable, ...], load: Callable[[], T], *, schema: str | None = None) -> T:
    """`load()`'s value for (the tenant's schema, name, args), kept in this process until a writer
    changes the tenant's rows. `schema`: the tenant's, when the connection is not on it (public
    rows read for a tenant); else the connection's. The value is shared: callers must not change it."""
    schema = connection.schema_name if schema is None else schema
    if schema == get_public_schema_name():
        return load()
    return _cached(schema, name, args, load)


def routing_cached(name: str, args: tuple[Hashable, ...], load: Callable[[], T]) -> T:
    """`load()`'s value for public rows that route requests (a tenant by its host name), kept in
    this process until a tenant or a domain changes: their saves and updates replace the public
    schema's token (tenants/apps.py). Other public rows are never cached: nothing else watches them."""
    return _cached(get_public_schema_name(), f"routing:{name}", args, load)


def _cached(schema: str, name: str, args: tuple[Hashable, ...], load: Callable[[], T]) -> T:
    token = None if _writing(schema) else _token(schema)
    if token is None:
        return load()
    key = (schema, name, *args)
    now = time.monotonic()
    with _entries_lock:
        found = _entries.get(key)
    if found is not None and found[0] == token and now - found[1] < MAX_AGE_S:
        return found[2]  # type: ignore[no-any-return]
    value = load()
    with _entries_lock:
        _entries[key] = (token, now, value)
        if len(_entries) > MAX_ENTRIES:
            _entries.clear()  # a bound, not an eviction policy: refilled at a query each
    return value


def tenant_rows_changed(schema_names: Iterable[str] | None = None) -> None:
    """A writer changed cached rows of these tenants (default: the current schema's). Until the
    transaction ends this thread bypasses their caches; after it commits every process drops them."""
    schemas = [connection.schema_name] if schema_names is None else list(schema_names)
    if connection.in_atomic_block:
        for schema in schemas:
            _state.writing[schema] = connection.atomic_blocks[0]
    transaction.on_commit(lambda: _tokens_replace(schemas))


def rows_watch(model: type[Model], schemas_of: Callable[[Any], Iterable[str]] | None = None,
               schemas_of_rows: Callable[[QuerySet[Any]], Iterable[str]] | None = None) -> None:
    """Every save and delete of `model` changes cached rows: of the current schema's tenant, or of
    `schemas_of(instance)` for public rows (a subscription, a plan). Called from the owning app's
    `ready`. Queryset updates and bulk writes send no signal: the model's manager is a
    `RowsManager`, which reports them (`schemas_of_rows(queryset)` for public rows)."""

    def changed(sender: Any, instance: Any, **kwargs: Any) -> None:
        tenant_rows_changed(None if schemas_of is None else schemas_of(instance))

    uid = f"row_cache.{model._meta.label}"
    post_save.connect(changed, sender=model, weak=False, dispatch_uid=f"{uid}.save")
    post_delete.connect(changed, sender=model, weak=False, dispatch_uid=f"{uid}.delete")
    _watched[model._meta.label] = (schemas_of, schemas_of_rows)


_watched: dict[str, tuple[Callable[[Any], Iterable[str]] | None, Callable[[QuerySet[Any]], Iterable[str]] | None]] = {}


class RowsQuerySet(QuerySet[Any]):
    """The queryset of a cached model: its updates and bulk writes, which send no signal, report
    the change (tenants/row_cache.py) like a save does."""

    def update(self, **kwargs: Any) -> int:
        schemas = self._schemas_of_rows()
        count = super().update(**kwargs)
        if count:
            tenant_rows_changed(schemas)
        return count

    def bulk_create(self, objs: Iterable[Any], *args: Any, **kwargs: Any) -> list[Any]:
        created = super().bulk_create(objs, *args, **kwargs)
        if created:
            tenant_rows_changed(self._schemas_of_objects(created))
        return created

    def bulk_update(self, objs: Iterable[Any], *args: Any, **kwargs: Any) -> int:
        objs = list(objs)
        count = super().bulk_update(objs, *args, **kwargs)
        if count:
            tenant_rows_changed(self._schemas_of_objects(objs))
        return count

    def _schemas_of_rows(self) -> list[str] | None:
        of_rows = _watched.get(self.model._meta.label, (None, None))[1]
        return None if of_rows is None else list(of_rows(self))

    def _schemas_of_objects(self, objs: list[Any]) -> list[str] | None:
        of_one = _watched.get(self.model._meta.label, (None, None))[0]
        return None if of_one is None else sorted({schema for obj in objs for schema in of_one(obj)})


RowsManager = Manager.from_queryset(RowsQuerySet)


def tenant_rows_forget() -> None:
    """Drop every entry of this process (tests start from a clean process state)."""
    with _entries_lock:
        _entries.clear()
    _state.writing.clear()
    _state.tokens = None


def _writing(schema: str) -> bool:
    marker = _state.writing.get(schema)
    if marker is None:
        return False
    if connection.in_atomic_block and connection.atomic_blocks[0] is marker:
        return True
    del _state.writing[schema]  # that transaction ended: committed (token replaced) or rolled back
    return False


def _token(schema: str) -> str | None:
    tokens = _state.tokens
    if tokens is not None and schema in tokens:
        return tokens[schema]
    try:
        token = _token_read(schema)
    except Exception:  # noqa: BLE001 - Redis down: read Postgres, as without the cache
        logger.warning("row cache token of %s unreadable; reading the rows", schema, exc_info=True)
        return None
    if token is not None and tokens is not None:
        tokens[schema] = token
    return token  # type: ignore[no-any-return]


def _token_read(schema: str) -> str | None:
    """The schema's token, made if Redis has none."""
    key = _token_key(schema)
    token = tokens_cache.get(key)
    if token is None:
        fresh = uuid.uuid4().hex
        token = fresh if tokens_cache.add(key, fresh, timeout=None) else tokens_cache.get(key)
    return token  # type: ignore[no-any-return]


def _token_key(schema: str) -> str:
    return f"{TOKEN_KEY}:{schema}"


def _tokens_replace(schemas: list[str]) -> None:
    for schema in schemas:
        token = uuid.uuid4().hex
        try:
            tokens_cache.set(_token_key(schema), token, timeout=None)
        except Exception:  # noqa: BLE001 - the write committed; entries expire after MAX_AGE_S
            logger.error("row cache of %s not invalidated (kept at most %s s)", schema, MAX_AGE_S, exc_info=True)
            with _entries_lock:  # this process at least forgets them now
                for key in [key for key in _entries if key[0] == schema]:
                    del _entries[key]
            continue
        if _state.tokens is not None:
            _state.tokens[schema] = token

"""The FastAPI app the plugin mounts in Airflow's api-server (``/threatstream`` by default).

Every endpoint requires an authenticated Airflow user (``get_user`` of Airflow's
``core_api.security``: the REST API v2's JWT bearer token from ``POST /auth/token``, or the
UI's session cookie; 401 otherwise) and a DAG permission checked by the configured auth
manager (403 otherwise), before anything is read:

* lookups: read access to the merged-view DAG (``threatstream_merged_view``), whose output
  they read;
* feed health: read access to the runs of every registered source's DAG.

The page (:mod:`threatstream.api.page`, ``/threatstream/ui/``) is the exception: a static
shell without data, whose script reads this API with the UI's session.

The handlers are plain ``def``: FastAPI runs them in its thread pool, so the Azure SDK's
blocking calls and the ORM never block the api-server's event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from airflow.api_fastapi.core_api.security import get_user
from fastapi import Depends, FastAPI, HTTPException, Query, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from threatstream.api.health import DEFAULT_RUNS, MAX_RUNS, feed_health
from threatstream.api.lookup import MAX_BULK_VALUES, Lookups, StoreUnavailable
from threatstream.api.page import add_page
from threatstream.naming import MERGED_VIEW_DAG_ID
from threatstream.sources.registry import all_sources

#: Where the plugin mounts the app in the api-server.
URL_PREFIX = "/threatstream"
#: The largest request body the app reads (1,000 values of up to ~4 KiB each).
MAX_BODY_BYTES = 4 * 1024 * 1024
#: The largest page of ``/api/v1/indicators``, and its default.
MAX_PAGE = 100
DEFAULT_PAGE = 20
#: The longest continuation token accepted (the store's tokens are far shorter).
MAX_CONTINUATION_CHARS = 4096
#: HTTP status of each lookup result (``status``) when it is the whole answer.
STATUS_CODES = {"found": 200, "not_found": 404, "invalid": 400, "error": 503}


def requires_dag_read(
    dag_ids: Callable[[], list[str]], access_entity: str | None = None
) -> Callable[..., None]:
    """A dependency: the user may ``GET`` each of ``dag_ids()`` (or its ``access_entity``,
    e.g. ``RUN``) according to Airflow's auth manager; 403 otherwise (401 comes from ``get_user``)."""

    def check(user: Annotated[Any, Depends(get_user)]) -> None:
        from airflow.api_fastapi import app as api_app
        from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails

        manager = api_app.get_auth_manager()
        entity = DagAccessEntity[access_entity] if access_entity else None
        for dag_id in dag_ids():
            if not manager.is_authorized_dag(
                method="GET", access_entity=entity, details=DagDetails(id=dag_id), user=user
            ):
                raise HTTPException(status.HTTP_403_FORBIDDEN, f"Forbidden: no read access to DAG {dag_id}")

    return check


def _merged_view_dag() -> list[str]:
    return [MERGED_VIEW_DAG_ID]


def _source_dags() -> list[str]:
    return [spec.dag_id for spec in all_sources()]


CanLookup = Depends(requires_dag_read(_merged_view_dag))
CanReadHealth = Depends(requires_dag_read(_source_dags, "RUN"))


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` is answered 413 before it is parsed.

    A declared ``Content-Length`` over the limit is refused without reading; a body without
    one (chunked) is counted as it arrives and refused as soon as it passes the limit, so
    memory stays bounded whatever a client sends.
    """

    def __init__(self, app: Any, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        received = 0
        too_large = False

        async def bounded_receive() -> Any:
            nonlocal received, too_large
            message = await receive()
            if message.get("type") == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    return {"type": "http.disconnect"}  # the app stops reading here
            return message

        async def guarded_send(message: Any) -> None:
            if not too_large:  # the app's own answer to the cut body is replaced by the 413
                await send(message)

        try:
            await self.app(scope, bounded_receive, guarded_send)
        except Exception:
            if not too_large:
                raise
        if too_large:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Any, receive: Any, send: Any) -> None:
        detail = f"request body over {self.max_bytes} bytes; split the values into smaller requests"
        await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)


class LookupItem(BaseModel):
    """One value of a bulk lookup, with its type when known."""

    value: str
    type: str | None = Field(default=None, description="indicator type; detected when omitted")


def create_app(lookups: Lookups | None = None) -> FastAPI:
    """The API; ``lookups`` reads the merged view (default: the ``threatstream_cosmos`` connection)."""
    store = lookups or Lookups()
    app = FastAPI(
        title="ThreatStream",
        version="1",
        description=(
            "Look up indicators in ThreatStream's merged view and check the feeds' health. "
            "Authenticate with an Airflow JWT: `POST /auth/token` on the api-server, then "
            "`Authorization: Bearer <token>`."
        ),
    )
    app.state.lookups = store
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)

    @app.get("/api/v1/lookup", dependencies=[CanLookup], summary="Look up one value")
    def lookup_one(
        value: Annotated[str, Query(description="the value, in any spelling (defanged too)")],
        type: Annotated[str | None, Query(description="indicator type; detected when omitted")] = None,
    ) -> JSONResponse:
        """Canonicalise ``value`` as the pipeline does and point-read its merged document.

        200 with ``record`` when found; 404 (``status: not_found``, with the candidates tried);
        400 (``status: invalid``, ``reason``, ``message``) when the value cannot be an indicator;
        503 when the store cannot be asked.
        """
        result = store.one(value, type)
        return JSONResponse(result, status_code=STATUS_CODES[result["status"]])

    @app.post("/api/v1/lookup", dependencies=[CanLookup], summary="Look up many values")
    def lookup_many(
        values: Annotated[
            list[str | LookupItem],
            Field(description=f"up to {MAX_BULK_VALUES} values (strings or {{value, type}} objects)"),
        ],
    ) -> dict[str, Any]:
        """One result per value, in input order, each with its own ``status`` (found,
        not_found, invalid, error); a bad value never fails the batch. More than
        the limit is refused with 413."""
        if len(values) > MAX_BULK_VALUES:
            raise HTTPException(
                413,  # Content Too Large (Starlette's constant was renamed)
                f"{len(values)} values; at most {MAX_BULK_VALUES} per request",
            )
        items = [(v, None) if isinstance(v, str) else (v.value, v.type) for v in values]
        results = store.many(items)
        counts = {name: sum(r["status"] == name for r in results) for name in STATUS_CODES}
        return {"count": len(results), "counts": counts, "results": results}

    @app.get("/api/v1/indicators", dependencies=[CanLookup], summary="Top and recent indicators")
    def indicators(
        order: Annotated[
            Literal["score", "recent"],
            Query(description="score: highest stored score first; recent: most recently changed first"),
        ] = "score",
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="records per page")] = DEFAULT_PAGE,
        continuation: Annotated[
            str | None,
            Query(max_length=MAX_CONTINUATION_CHARS, description="the previous page's `continuation`"),
        ] = None,
    ) -> dict[str, Any]:
        """A page of the merged view's unexpired records (as lookups show them), with the
        ``continuation`` token of the next page (null on the last) and the page's RU charge."""
        try:
            return store.ranked(order, limit, continuation or None)
        except ValueError as err:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, str(err)) from None
        except StoreUnavailable as err:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(err)) from None

    @app.get("/api/v1/health", dependencies=[CanReadHealth], summary="Feed health")
    def health(
        runs: Annotated[int, Query(ge=1, le=MAX_RUNS, description="runs per source")] = DEFAULT_RUNS,
    ) -> dict[str, Any]:
        """Every registered source's last runs and freshness, from Airflow's metadata database."""
        return {"feeds": feed_health(runs)}

    add_page(app)
    return app

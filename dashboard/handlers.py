"""HTTP handlers: page, health, runs, ingest, tile and mosaic images. JSON errors everywhere.

Handlers get everything through ``initialize(services)`` (see :mod:`dashboard.app`); blocking work
(parsing, PNG checks, SQLite, Pillow) runs on the services' executors, never on the event loop.
"""
from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import tornado.web

from mpi_render.config import RenderConfig, check_run_id
from mpi_render.locations import LOCATIONS
from mpi_render.protocol import BatchError

from . import mosaic, overview
from .auth import check_bearer
from .ingest import read_batch
from .records import RunCancelled, RunConflict, StorageFull, StorageUnavailable, TileConflict
from .validate import TileRejected

log = logging.getLogger(__name__)
MAX_CONFIG_BYTES = 64 * 1024
TEMPLATES = Path(__file__).resolve().parent / "templates"
STORE_ERRORS = {TileConflict: 409, StorageFull: 507, StorageUnavailable: 503}


class ApiError(tornado.web.HTTPError):
    """An error answered as ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str, **extra):
        super().__init__(status)
        self.message = message
        self.extra = extra  # more fields of the JSON answer (e.g. "cancelled": true)


def json_object(body: bytes, what: str, shape: str) -> dict:
    """The JSON object of a small request body (a claim, a phase report).

    Raises:
        ApiError: 413 over :data:`MAX_CONFIG_BYTES`; 400 not JSON or not an object (the message
            names ``what`` and shows the expected ``shape``).
    """
    if len(body) > MAX_CONFIG_BYTES:
        raise ApiError(413, f"{what} body must be at most {MAX_CONFIG_BYTES} bytes")
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ApiError(400, f"{what} body is not JSON: {str(exc)[:200]}") from None
    if not isinstance(doc, dict):
        raise ApiError(400, f"{what} body must be an object {shape}")
    return doc


class BaseHandler(tornado.web.RequestHandler):
    """JSON helpers, nosniff, JSON errors, token and run checks."""

    def initialize(self, services):
        self.services = services

    def set_default_headers(self):
        self.set_header("X-Content-Type-Options", "nosniff")

    def write_json(self, doc, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(doc, separators=(",", ":")))

    def write_error(self, status_code: int, **kwargs):
        exc = kwargs.get("exc_info", (None, None))[1]
        message = getattr(exc, "message", None) or self._reason
        if status_code >= 500 and not isinstance(exc, ApiError):
            message = "internal server error"
        self.clear_header("Content-Disposition")
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": message, **getattr(exc, "extra", {})}))

    def require_token(self, control_ok: bool = False) -> None:
        """401/403 unless the request carries the ingest token (or, with ``control_ok``, the
        control token, which may only create and cancel runs)."""
        header = self.request.headers.get("Authorization")
        status = check_bearer(header, self.services.token)
        if status == 401:
            self.set_header("WWW-Authenticate", "Bearer")
            raise ApiError(401, "missing bearer token (Authorization: Bearer <token>)")
        control = self.services.control_token
        if status == 403 and control and check_bearer(header, control) is None:
            if control_ok:
                return
            raise ApiError(403, "the control token may only create and cancel runs")
        if status == 403:
            raise ApiError(403, "wrong token")

    def refuse_cancelled(self, run_id: str) -> None:
        """410 when ``run_id`` was cancelled."""
        if self.services.store.is_cancelled(run_id):
            raise ApiError(410, f"run {run_id} was cancelled", cancelled=True)

    def check_run_id(self, run_id: str) -> None:
        """400 unless ``run_id`` is a well-formed run id."""
        try:
            check_run_id(run_id)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None

    def run_config(self, run_id: str) -> RenderConfig:
        """The config of an existing, well-named run; 400/404 otherwise."""
        self.check_run_id(run_id)
        config = self.services.store.run_config(run_id)
        if config is None:
            raise ApiError(404, f"unknown run {run_id}")
        return config

    async def in_pool(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.services.pool, fn, *args)

    async def in_writer(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.services.writer, fn, *args)


class NotFoundHandler(BaseHandler):
    """Every unknown path: 404 JSON."""

    def prepare(self):
        raise ApiError(404, f"no such path {self.request.path[:200]}")


class HealthHandler(BaseHandler):
    def get(self):
        self.write_json({"ok": True})


class IndexHandler(BaseHandler):
    """``GET ./``: the page, served as-is (it only uses relative URLs)."""

    def get(self):
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.finish((TEMPLATES / "index.html").read_bytes())


class StaticHandler(tornado.web.StaticFileHandler):
    def set_default_headers(self):
        self.set_header("X-Content-Type-Options", "nosniff")


class RunsHandler(BaseHandler):
    def get(self):
        self.write_json({"runs": self.services.store.list_runs()})


class LocationsHandler(BaseHandler):
    """``GET api/locations``: the famous places (:mod:`mpi_render.locations`), the CLI's list."""

    def get(self):
        self.write_json({"locations": [place.json() for place in LOCATIONS.values()]})


class RunHandler(BaseHandler):
    """``GET``/``PUT api/runs/{id}`` (a PUT body may name the run it was made from: ``parent``)."""

    def get(self, run_id: str):
        self.run_config(run_id)
        self.write_json({**self.services.store.run_doc(run_id),
                         "phases": self.services.phases.of(run_id)})

    async def put(self, run_id: str):
        self.require_token(control_ok=True)
        self.check_run_id(run_id)
        if len(self.request.body) > MAX_CONFIG_BYTES:
            raise ApiError(413, f"run config must be at most {MAX_CONFIG_BYTES} bytes")
        try:
            doc = json.loads(self.request.body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ApiError(400, f"run config is not JSON: {exc}") from None
        try:
            config = RenderConfig.from_run_json(doc)
        except (ValueError, TypeError) as exc:
            raise ApiError(422, str(exc)) from None
        parent = self.checked_parent(run_id, doc.get("parent"))
        try:
            created, run_doc = await self.in_writer(self.services.store.create_run, run_id,
                                                    config, parent)
        except RunConflict as exc:
            raise ApiError(409, str(exc)) from None
        except (StorageFull, StorageUnavailable) as exc:
            raise ApiError(STORE_ERRORS[type(exc)], str(exc)) from None
        if created:
            self.services.hub.publish_control(
                {"type": "run", "run": self.services.store.run_summary(run_id)})
            self.services.work.notify()
        self.write_json(run_doc, 201 if created else 200)

    def checked_parent(self, run_id: str, parent) -> str | None:
        """The optional ``parent`` of a PUT body: None, or an existing run other than this one.

        Raises:
            ApiError: 422 for anything else (nothing is stored).
        """
        if parent is None:
            return None
        if not isinstance(parent, str):
            raise ApiError(422, f"parent must be a run id (a string), got {str(parent)[:40]!r}")
        try:
            check_run_id(parent)
        except ValueError as exc:
            raise ApiError(422, f"parent: {exc}") from None
        if parent == run_id:
            raise ApiError(422, "a run cannot be its own parent")
        if self.services.store.run_config(parent) is None:
            raise ApiError(422, f"parent run {parent} does not exist")
        return parent


@tornado.web.stream_request_body
class TilesHandler(BaseHandler):
    """``POST api/runs/{id}/tiles``: a batch, checked whole, stored atomically, then fanned out.

    The body is streamed so the size limit is enforced while reading (``413`` instead of
    Tornado's dropped connection), and auth and the run are checked before any byte is read.
    """

    def prepare(self):
        self.require_token()
        self.config = self.run_config(self.path_args[0])
        self.refuse_cancelled(self.path_args[0])
        limit = self.services.max_body_bytes
        length = self.request.headers.get("Content-Length", "0")
        if length.isdigit() and int(length) > limit:
            raise ApiError(413, f"batch body is {length} bytes, the limit is {limit} (--max-body)")
        # A chunked body has no Content-Length: read on past the limit (discarding) so the
        # answer can be a JSON 413; Tornado itself cuts the connection at twice the limit.
        self.request.connection.set_max_body_size(2 * limit)
        self.chunks, self.received = [], 0

    def data_received(self, chunk: bytes):
        self.received += len(chunk)
        if self.received <= self.services.max_body_bytes:
            self.chunks.append(chunk)
        else:
            self.chunks = []

    async def post(self, run_id: str):
        if self.received > self.services.max_body_bytes:
            raise ApiError(413, f"batch body exceeds {self.services.max_body_bytes} bytes "
                                "(--max-body)")
        body, self.chunks = b"".join(self.chunks), []
        content_type = self.request.headers.get("Content-Type", "")
        try:
            tiles = await self.in_pool(read_batch, self.config, content_type, body)
        except BatchError as exc:
            raise ApiError(400, str(exc)) from None
        except TileRejected as exc:
            raise ApiError(422, str(exc)) from None
        try:
            result = await self.in_writer(self.services.store.add_tiles, run_id, tiles)
        except RunCancelled as exc:  # cancelled while the batch was being checked
            raise ApiError(410, str(exc), cancelled=True) from None
        except (TileConflict, StorageFull, StorageUnavailable) as exc:
            log.warning("batch for run %s refused: %s", run_id, exc)
            raise ApiError(STORE_ERRORS[type(exc)], str(exc)) from None
        grid = self.config.grid
        self.services.leases.release(run_id, [t.row * grid + t.col for t in result.stored])
        if self.config.dynamic and result.stored:
            self.services.work.notify()  # the sites' means changed: a backup may now be work
        self.services.hub.publish_tiles(run_id, result.stored)
        self.write_json({"accepted": len(result.stored), "duplicates": result.duplicates,
                         "seq": result.seq})


class TileHandler(BaseHandler):
    """``GET api/runs/{id}/tiles/{row}/{col}.png``."""

    async def get(self, run_id: str, row: str, col: str):
        self.run_config(run_id)
        found = await self.in_pool(self.services.store.tile_png, run_id, int(row), int(col))
        if found is None:
            raise ApiError(404, f"tile r{row}c{col} of run {run_id} is not stored")
        png, digest = found
        self.set_header("Content-Type", "image/png")
        self.set_header("Cache-Control", "public, max-age=3600")  # a stored tile never changes
        self.set_header("Etag", f'"{digest.hex()}"')
        self.finish(png)

    def compute_etag(self):
        return None  # the ETag is the stored SHA-256, set above


class MosaicHandler(BaseHandler):
    """``GET api/runs/{id}/image.png?scale=S``: streamed band by band (one tile row each)."""

    async def get(self, run_id: str):
        config = self.run_config(run_id)
        raw_scale = self.get_query_argument("scale", "1")
        try:
            scale = float(raw_scale)
        except ValueError:
            raise ApiError(400, f"scale must be a number in (0, 1], got {raw_scale[:40]!r}") from None
        try:
            plan = mosaic.plan(config, scale)
        except mosaic.ScaleError as exc:
            raise ApiError(exc.status, str(exc)) from None
        store = self.services.store
        self.set_header("Content-Type", "image/png")
        self.set_header("Cache-Control", "no-cache")
        encoder = mosaic.MosaicEncoder(plan)
        self.write(encoder.start())
        for row in range(config.grid):
            self.write(await self.in_pool(encoder.band, store.iter_row_pngs(run_id, row)))
            await self.flush()
        self.finish(encoder.finish())


class OverviewHandler(BaseHandler):
    """``GET api/runs/{id}/overview.png?px=N``: the cached, incrementally updated overview.

    ``X-Mosaic-Seq`` says which tiles it shows (every tile with a seq up to it), ``X-Cell-Px``
    the side of one tile in it. Built on the overview thread (see :mod:`dashboard.overview`).
    """

    async def get(self, run_id: str):
        config = self.run_config(run_id)
        try:
            px = overview.check_px(self.get_query_argument("px", str(overview.MAX_OVERVIEW_PX)))
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        png, seq, cell_px = await asyncio.get_running_loop().run_in_executor(
            self.services.overview_thread, self.services.overviews.get, run_id, config, px)
        self.set_header("Content-Type", "image/png")
        self.set_header("Cache-Control", "no-store")  # changes with every stored tile
        self.set_header("X-Mosaic-Seq", str(seq))
        self.set_header("X-Cell-Px", str(cell_px))
        self.finish(png)

    def compute_etag(self):
        return None  # no-store: hashing megabytes per request would buy nothing

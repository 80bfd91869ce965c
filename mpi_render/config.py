"""The render configuration shared by the site job, the dashboard and the demo.

A :class:`RenderConfig` is what every site of one run must agree on (the image and the split);
its :meth:`RenderConfig.run_json` form is the body of ``PUT api/runs/{id}``, and the dashboard
rebuilds the same object with :meth:`RenderConfig.from_run_json` to check tile ownership.
Per-site settings (site name, backend, dashboard URL, ...) are not part of it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .palettes import check_palette_name
from .tiling import SPLITS, assign_tiles, normalize_weights
from .view import View, ViewValue

GRID_RANGE = (1, 64)
TILE_PX_RANGE = (16, 2048)
MAX_ITER_RANGE = (1, 100_000_000)
DEFAULT_MAX_ITER = 256
DEFAULT_CENTER = (-0.75, 0.0)
DEFAULT_WIDTH = 3.0
DEFAULT_SITES = ("cloud", "onprem")
SITE_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
RUN_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def _check_int(name: str, value, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer in {lo}..{hi}, got {value!r}")
    return value


def check_run_id(run_id: str) -> str:
    """Return ``run_id`` if it matches ``[A-Za-z0-9_.-]{1,64}`` and is not ``.``/``..``."""
    if not isinstance(run_id, str) or not RUN_ID_RE.match(run_id) or run_id in (".", ".."):
        raise ValueError("run id must match [A-Za-z0-9_.-]{1,64} (and not be '.' or '..')")
    return run_id


@dataclass(frozen=True, eq=False)
class RenderConfig:
    """One run's image and split.

    Two configs are equal when every field is, the view compared as exact decimals (the same
    view spelled ``-0.75`` or ``"-75e-2"`` is the same run).

    Attributes:
        grid: tiles per side (1..64).
        tile_px: pixels per tile side (16..2048).
        palette: palette name, lower case (see :mod:`mpi_render.palettes`).
        max_iter: iteration cap per pixel.
        center: ``(cx, cy)`` of the whole image in the complex plane: numbers or decimal strings
            of any depth (:mod:`mpi_render.view`), kept as given.
        width: width of the whole (square) image in complex-plane units, likewise.
        sites: ordered site names.
        split: ``contiguous``, ``interleaved`` (each site owns its share) or ``dynamic`` (sites
            claim tiles from the dashboard while they render).
        weights: contiguous shares per site (sum 1), or ``None`` for equal shares.
    """

    grid: int = 8
    tile_px: int = 256
    palette: str = "electric"
    max_iter: int = DEFAULT_MAX_ITER
    center: tuple[ViewValue, ViewValue] = DEFAULT_CENTER
    width: ViewValue = DEFAULT_WIDTH
    sites: tuple[str, ...] = DEFAULT_SITES
    split: str = "contiguous"
    weights: tuple[float, ...] | None = field(default=None)
    view: View = field(init=False, repr=False)

    def __post_init__(self):
        _check_int("grid", self.grid, *GRID_RANGE)
        _check_int("tile", self.tile_px, *TILE_PX_RANGE)
        _check_int("max_iter", self.max_iter, *MAX_ITER_RANGE)
        object.__setattr__(self, "palette", check_palette_name(self.palette))
        if isinstance(self.center, str) or len(self.center) != 2:
            raise ValueError(f"center must be two values CX,CY, got {self.center!r}")
        view = View(self.center[0], self.center[1], self.width)
        object.__setattr__(self, "view", view)
        object.__setattr__(self, "center", (view.cx, view.cy))
        object.__setattr__(self, "width", view.width)
        sites = tuple(self.sites)
        for name in sites:
            if not isinstance(name, str) or not SITE_NAME_RE.match(name):
                raise ValueError(f"site names must match [A-Za-z0-9_.-]{{1,32}}, got {name!r}")
        object.__setattr__(self, "sites", sites)
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {self.split!r}")
        if self.weights is not None:
            object.__setattr__(self, "weights", normalize_weights(self.weights, len(sites)))
        assign_tiles(self.grid, sites, self.split, self.weights)  # checks names are unique

    def _key(self) -> tuple:
        return (self.grid, self.tile_px, self.palette, self.max_iter, self.view, self.sites,
                self.split, self.weights)

    def __eq__(self, other) -> bool:
        return isinstance(other, RenderConfig) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    @property
    def image_px(self) -> int:
        """Pixels per side of the whole image (``grid * tile_px``)."""
        return self.grid * self.tile_px

    @property
    def total_tiles(self) -> int:
        """Number of tiles in the whole image (``grid**2``)."""
        return self.grid * self.grid

    @property
    def dynamic(self) -> bool:
        """Whether sites claim tiles while they render instead of owning a share."""
        return self.split == "dynamic"

    def owned(self) -> dict[str, list[int]]:
        """Tile indices per site under this run's split (empty lists for ``dynamic``)."""
        return assign_tiles(self.grid, self.sites, self.split, self.weights)

    def run_json(self) -> dict:
        """The JSON body of ``PUT api/runs/{id}`` (also what the dashboard stores and compares)."""
        return {
            "grid": self.grid,
            "tile_px": self.tile_px,
            "palette": self.palette,
            "max_iter": self.max_iter,
            "view": self.view.json(),
            "sites": list(self.sites),
            "split": self.split,
            "weights": list(self.weights) if self.weights is not None else None,
        }

    @classmethod
    def from_run_json(cls, doc: dict) -> RenderConfig:
        """Inverse of :meth:`run_json`.

        Raises:
            ValueError: a missing or malformed field (message names it).
        """
        if not isinstance(doc, dict):
            raise ValueError("run config must be a JSON object")
        try:
            view = doc["view"]
            if not isinstance(view, dict):
                raise ValueError("view must be an object {cx, cy, width}")
            weights = doc.get("weights")
            return cls(
                grid=doc["grid"], tile_px=doc["tile_px"], palette=doc["palette"],
                max_iter=doc["max_iter"], center=(view["cx"], view["cy"]), width=view["width"],
                sites=tuple(_site_list(doc["sites"])),
                split=doc.get("split", "contiguous"),
                weights=None if weights is None else tuple(_number(w) for w in weights),
            )
        except KeyError as exc:
            raise ValueError(f"run config is missing field {exc.args[0]!r}") from None
        except TypeError as exc:
            raise ValueError(f"run config is malformed: {exc}") from None


def _number(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


def _site_list(value) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise ValueError("sites must be a list of names")
    return value

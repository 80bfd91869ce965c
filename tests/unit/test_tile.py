"""The tile pipeline: the right pixels in the right place, honest metadata, clear errors."""
import io
import time

import numpy as np
import pytest
from PIL import Image

from mpi_render.config import RenderConfig
from mpi_render.escape import Escape
from mpi_render.kernels import reference
from mpi_render.palettes import palette_bytes, smooth_indices
from mpi_render.tile import RenderedTile, render_tile, warm_up

CONFIG = RenderConfig(grid=3, tile_px=16, palette="cosmic", max_iter=40, center=(-0.6, 0.1),
                      width=2.7)


def expected_escape(config: RenderConfig, row: int, col: int) -> Escape:
    """Escape data straight from DESIGN.md's geometry and the plain-Python reference."""
    pitch = config.width / (config.grid * config.tile_px)
    x0 = config.center[0] - config.width / 2 + col * config.tile_px * pitch
    y0 = config.center[1] + config.width / 2 - row * config.tile_px * pitch
    cr = [x0 + (i + 0.5) * pitch for i in range(config.tile_px)]
    ci = [y0 - (j + 0.5) * pitch for j in range(config.tile_px)]
    data = np.array(reference.escape_data(cr, ci, config.max_iter))  # [row][col][3]
    return Escape(data[..., 0].astype(np.uint32), data[..., 1].astype(np.uint8), data[..., 2])


def decoded_indices(tile: RenderedTile) -> np.ndarray:
    image = Image.open(io.BytesIO(tile.png))
    assert image.mode == "P" and image.size == (CONFIG.tile_px, CONFIG.tile_px)
    assert bytes(image.getpalette("RGB")) == palette_bytes(CONFIG.palette)
    return np.asarray(image)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("row, col", [(0, 0), (1, 2), (2, 1)])
def test_tile_pixels_are_the_smooth_colours_of_the_reference(backend, row, col):
    escape = expected_escape(CONFIG, row, col)
    tile = render_tile(CONFIG, row, col, backend=backend)
    want = smooth_indices(escape, CONFIG.max_iter)
    np.testing.assert_array_equal(decoded_indices(tile), want)
    assert ((want == 255) == (escape.counts >= CONFIG.max_iter)).all()
    assert (tile.row, tile.col) == (row, col)
    assert tile.iterations == escape.counts.sum()


def test_tile_is_the_same_bytes_whichever_backend_renders_it():
    for row, col in [(0, 1), (1, 1)]:
        assert render_tile(CONFIG, row, col, backend="numpy").png == \
            render_tile(CONFIG, row, col, backend="numba").png


def test_tiles_tell_apart_interior_and_outside():
    centre = decoded_indices(render_tile(CONFIG, 1, 1))
    assert (centre == 255).any() and (centre != 255).any()


def test_timings_are_positive_milliseconds():
    tile = render_tile(CONFIG, 1, 1, backend="numpy")
    assert 0 < tile.render_ms < 60_000 and 0 < tile.encode_ms < 60_000


def test_meta_is_the_batch_manifest_entry():
    tile = RenderedTile(row=2, col=1, png=b"", render_ms=1.5, encode_ms=0.25, iterations=99,
                        rendered_at=1700000000.5)
    assert tile.meta("cloud", 3, "node7") == {
        "row": 2, "col": 1, "site": "cloud", "rank": 3, "host": "node7",
        "render_ms": 1.5, "encode_ms": 0.25, "iterations": 99, "rendered_at": 1700000000.5,
        "kernel": "double"}


def test_rendered_at_is_the_wall_clock_at_the_end_of_the_tile():
    before = time.time()
    tile = render_tile(CONFIG, 1, 1, backend="numpy")
    assert before <= tile.rendered_at <= time.time()


def test_rendered_tile_is_frozen():
    with pytest.raises(AttributeError):
        render_tile(CONFIG, 0, 0).row = 5


@pytest.mark.parametrize("row, col", [(3, 0), (0, 3), (-1, 0)])
def test_tile_outside_the_grid_is_refused(row, col):
    with pytest.raises(ValueError, match="outside the 3x3 grid"):
        render_tile(CONFIG, row, col)


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="backend must be one of"):
        render_tile(CONFIG, 0, 0, backend="gpu")


@pytest.mark.parametrize("backend, resolved", [("auto", "numba"), ("numpy", "numpy"),
                                               ("numba", "numba")])
def test_warm_up_returns_the_resolved_backend(backend, resolved):
    assert warm_up(backend) == resolved


def test_warm_up_refuses_unknown_backend():
    with pytest.raises(ValueError, match="backend must be one of"):
        warm_up("fortran")

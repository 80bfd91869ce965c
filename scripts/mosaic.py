"""Assemble the tiles that ``mpi-render --out DIR`` wrote into one PNG (used by ``make thumbnail``).

usage: python scripts/mosaic.py TILE_DIR GRID OUT.png

TILE_DIR must hold every ``r{row}c{col}.png`` of a GRID x GRID image, all of the same square
size; the mosaic is GRID * tile_px pixels per side, row 0 at the top (DESIGN.md's geometry).
Exits 2 with a one-line error when a tile is missing.
"""
from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image


def assemble(tile_dir: Path, grid: int) -> Image.Image:
    """The GRID x GRID mosaic of ``tile_dir``'s tiles, in RGB.

    Raises:
        FileNotFoundError: a tile of the grid is not in ``tile_dir``.
    """
    mosaic = None
    for row in range(grid):
        for col in range(grid):
            with Image.open(tile_dir / f"r{row}c{col}.png") as tile:
                if mosaic is None:
                    mosaic = Image.new("RGB", (grid * tile.width, grid * tile.height))
                mosaic.paste(tile.convert("RGB"), (col * tile.width, row * tile.height))
    return mosaic


def main(argv: list[str]) -> int:
    if len(argv) != 3 or not argv[1].isdigit() or int(argv[1]) < 1:
        print("usage: python scripts/mosaic.py TILE_DIR GRID OUT.png "
              "(e.g. scripts/mosaic.py build/thumbnail 4 thumbnail.png)", file=sys.stderr)
        return 2
    tile_dir, grid, out = Path(argv[0]), int(argv[1]), Path(argv[2])
    try:
        image = assemble(tile_dir, grid)
    except FileNotFoundError as err:
        print(f"mosaic: missing tile {err.filename}; render the whole grid first", file=sys.stderr)
        return 2
    image.save(out, optimize=True)
    print(f"mosaic: wrote {out} ({image.width}x{image.height} px)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

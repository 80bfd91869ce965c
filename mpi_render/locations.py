"""Famous places to start from: the names the CLI (``--location``), the demo, the workflow and the
page offer. Each is a view as exact decimal strings (:mod:`mpi_render.view`) with a max_iter that
shows it well.
"""
from __future__ import annotations

from dataclasses import dataclass

from .view import View


@dataclass(frozen=True)
class Location:
    """A named view.

    Attributes:
        name: lower-case identifier (``--location NAME``).
        cx, cy, width: the view, decimal strings.
        max_iter: an iteration cap that shows the place well.
        description: one line for ``--help`` and the page.
    """

    name: str
    cx: str
    cy: str
    width: str
    max_iter: int
    description: str

    def view(self) -> View:
        return View(self.cx, self.cy, self.width)

    def json(self) -> dict:
        """``{name, view: {cx, cy, width}, max_iter, description}``."""
        return {"name": self.name, "view": self.view().json(), "max_iter": self.max_iter,
                "description": self.description}


LOCATIONS: dict[str, Location] = {location.name: location for location in (
    Location("full", "-0.75", "0", "3", 256, "the whole set"),
    Location("seahorse", "-0.7436438870", "0.1318259043", "0.02", 4096,
             "seahorse valley, 150x zoom (the classic demo view)"),
    Location("flake",
             "-1.99996619445037030418434688506350579675531241540724851511761922944801584242342684"
             "381376129778868913812287046406560949864353810575744772166485672496092803920095332",
             "0.00000000000000000000000000000000030013824367909383240724973039775924987346831190"
             "773335270174257280120474975614823581185647299288414075519224186504978181625478529",
             "1.7e-157", 50_000,
             "Dinkydau's flake, width 1.7e-157: the classic perturbation test"),
)}


def location(name: str) -> Location:
    """The location called ``name`` (case-insensitive).

    Raises:
        ValueError: unknown name; the message lists the known ones.
    """
    found = LOCATIONS.get(str(name).strip().lower())
    if found is None:
        raise ValueError(f"unknown location {name!r}; known locations: {', '.join(LOCATIONS)}")
    return found

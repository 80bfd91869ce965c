"""Shared helpers of the deep-view tests and benchmarks: the named views and their prepared
references (cached per process)."""
import functools

from mpi_render import deep
from mpi_render.locations import LOCATIONS
from mpi_render.view import View

E20 = ("-0.743643887037158704752191506114774", "0.131825904205311970493132056385139", "1e-20")


def view_of(name: str) -> tuple[View, int]:
    """``(view, max_iter)`` of a location, or of ``e20`` (the seahorse valley's famous zoom
    point at width 1e-20, 20,000 iterations: chaotic, the hardest view for BLA's epsilon)."""
    if name == "e20":
        return View(*E20), 20000
    place = LOCATIONS[name]
    return View(place.cx, place.cy, place.width), place.max_iter


@functools.cache
def reference(name: str, image_px: int = 1024, interior=None) -> deep.Reference:
    """The prepared reference of a named view (cached for the process)."""
    view, max_iter = view_of(name)
    return deep.prepare(view, image_px, max_iter, interior=interior)

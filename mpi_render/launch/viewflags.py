"""The workflow's view input as ``mpi-render`` flags: a famous location, a custom deep view, or
the seed's view.

``workflow.yaml`` has an optional group input ``view`` {``location``, ``center_re``,
``center_im``, ``width``, ``max_iter``}; the on-prem preparation step turns it into the image
flags every site of the run passes (so all sites agree on one view) and hands them on as the
output ``view_flags``. The values arrive from the platform as strings in the environment::

    VIEW_LOCATION=flake VIEW_MAX_ITER= MAX_ITER=256 python -m mpi_render.launch.viewflags
    # prints: --location flake

* ``default`` (or empty: the input is absent, as in the seed's launch command): the seed's view,
  ``--max-iter $MAX_ITER`` (the advanced group's cap);
* a name of :mod:`mpi_render.locations`: ``--location NAME``, plus ``--max-iter`` when
  ``VIEW_MAX_ITER`` is given (else the location's own cap);
* ``custom``: ``--center=RE,IM --width W --max-iter N`` with the decimals exactly as typed (of
  any length) and ``VIEW_MAX_ITER``, or else ``$MAX_ITER``.

Every value is checked as ``mpi-render`` would check it (a decimal string is one shell word:
digits, sign, point and exponent only). Bad input is a one-line error naming the field, exit 2.
"""
from __future__ import annotations

import os
import sys

from ..config import DEFAULT_MAX_ITER, MAX_ITER_RANGE
from ..locations import LOCATIONS
from ..view import View

DEFAULT = "default"
CUSTOM = "custom"
CHOICES = (DEFAULT, *LOCATIONS, CUSTOM)  # the dropdown's values, in its order


def _max_iter(text: str, field: str) -> int:
    low, high = MAX_ITER_RANGE
    try:
        value = int(text.strip())
    except ValueError:
        value = 0
    if not low <= value <= high:
        raise ValueError(f"{field} must be a whole number in {low}..{high}, got {text!r}")
    return value


def _advanced_cap(environ) -> list[str]:
    """``--max-iter`` with the advanced group's cap (``MAX_ITER``, else the config's default)."""
    return ["--max-iter", str(_max_iter(environ.get("MAX_ITER", str(DEFAULT_MAX_ITER)),
                                        "advanced.max_iter"))]


def view_flags(environ) -> list[str]:
    """The image flags for the view input in ``environ`` (module docstring).

    Raises:
        ValueError: an unknown location, a malformed decimal or max_iter (the message names the
            input field).
    """
    location = environ.get("VIEW_LOCATION", "").strip().lower() or DEFAULT
    wanted = environ.get("VIEW_MAX_ITER", "").strip()
    if location not in CHOICES:
        raise ValueError(f"view.location must be one of {', '.join(CHOICES)}, got {location!r}")
    if location == DEFAULT:
        return _advanced_cap(environ)
    cap = ["--max-iter", str(_max_iter(wanted, "view.max_iter"))] if wanted else []
    if location != CUSTOM:
        return ["--location", location, *cap]
    values = {name: environ.get(f"VIEW_{name.upper()}", "").strip()
              for name in ("center_re", "center_im", "width")}
    try:
        View(values["center_re"], values["center_im"], values["width"])
    except ValueError as exc:  # names cx/cy/width: say which input field that is
        field = str(exc).split(" ", 1)[0]
        name = {"cx": "center_re", "cy": "center_im"}.get(field, "width")
        raise ValueError(f"view.{name}: {exc}") from None
    return [f"--center={values['center_re']},{values['center_im']}", "--width", values["width"],
            *(cap or _advanced_cap(environ))]


def main(environ=os.environ) -> int:
    try:
        print(" ".join(view_flags(environ)))
    except ValueError as exc:
        print(f"python -m mpi_render.launch.viewflags: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

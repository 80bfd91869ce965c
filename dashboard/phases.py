"""What a site is doing before its tiles arrive: ``POST api/runs/{id}/phase`` and its record.

A deep view's site job spends its first seconds on the reference orbit (MPFR) before any tile
exists; it reports that phase so the page can show it instead of looking stuck. The wire contract
is docs/API.md ("Phases"). Only the latest report per (run, site) is kept, in memory: a phase is
transient (a restarted dashboard knows none until the next report), and the tiles themselves are
what is stored.
"""
from __future__ import annotations

import math
import threading

from .handlers import ApiError, BaseHandler, json_object

PHASE_NAMES = ("reference", "rendering")
_FIELDS = {"done": int, "total": int, "elapsed_s": (int, float)}


class Phases:
    """The latest phase report of every (run, site); thread-safe, no Tornado."""

    def __init__(self):
        self._lock = threading.Lock()
        self._latest: dict[str, dict[str, dict]] = {}

    def report(self, run_id: str, report: dict) -> None:
        """Keep ``report`` (a checked phase body) as the site's latest for ``run_id``."""
        with self._lock:
            self._latest.setdefault(run_id, {})[report["site"]] = report

    def of(self, run_id: str) -> dict[str, dict]:
        """``{site: latest report}`` of ``run_id`` (a copy; empty when none)."""
        with self._lock:
            return {site: dict(report) for site, report in self._latest.get(run_id, {}).items()}

    def drop_run(self, run_id: str) -> None:
        with self._lock:
            self._latest.pop(run_id, None)


def parse_phase(body: bytes, sites: tuple[str, ...]) -> dict:
    """The checked phase report ``{site, phase, done, total, elapsed_s}`` of a request body.

    Raises:
        ApiError: 413 too big; 400 not JSON, not an object, a missing or mistyped field;
            422 a site not in ``sites``, an unknown phase, ``done`` outside ``0..total``.
    """
    doc = json_object(body, "phase", '{"site", "phase", "done", "total", "elapsed_s"}')
    site, phase = doc.get("site"), doc.get("phase")
    if not isinstance(site, str) or not isinstance(phase, str):
        raise ApiError(400, "phase fields site and phase must be strings")
    for name, kind in _FIELDS.items():
        value = doc.get(name)
        if isinstance(value, bool) or not isinstance(value, kind) \
                or (isinstance(value, float) and not math.isfinite(value)):
            raise ApiError(400, f"phase field {name} must be a finite number")
    if site not in sites:
        raise ApiError(422, f"site {site[:64]!r} is not a site of this run ({', '.join(sites)})")
    if phase not in PHASE_NAMES:
        raise ApiError(422, f"phase must be one of {', '.join(PHASE_NAMES)}, got {phase[:32]!r}")
    if not 0 <= doc["done"] <= doc["total"] or doc["elapsed_s"] < 0:
        raise ApiError(422, "phase needs 0 <= done <= total and elapsed_s >= 0")
    return {"site": site, "phase": phase, "done": doc["done"], "total": doc["total"],
            "elapsed_s": float(doc["elapsed_s"])}


class PhaseHandler(BaseHandler):
    """``POST api/runs/{id}/phase`` (ingest token): keep the report, tell the run's viewers."""

    def post(self, run_id: str):
        self.require_token()
        config = self.run_config(run_id)
        report = parse_phase(self.request.body, config.sites)
        self.services.phases.report(run_id, report)
        self.services.hub.publish_run_control(run_id, {"type": "phase", "run": run_id, **report})
        self.write_json({"accepted": True})

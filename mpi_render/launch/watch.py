"""Following runs from outside them: a progress display, the first run's verdict, and the
runs that come after it while the site jobs serve.

Used by ``mpi-render-demo``; reads ``GET api/runs/{id}`` and ``GET api/runs`` only.
"""
from __future__ import annotations

import sys
import time

from ..site.client import TRANSPORT_ERRORS, DashboardClient
from . import processes, report

POLL_S = 0.5
LINE_EVERY_S = 1.0


class RunProgress:
    """Prints run progress: a redrawn bar on a terminal, else a line when it changes (<= 1/s)."""

    def __init__(self, stream=sys.stdout):
        self.stream = stream
        self.tty = stream.isatty()
        self.last_text, self.last_s = "", 0.0

    def show(self, doc: dict) -> None:
        text = report.progress_bar(doc) if self.tty else report.progress_line(doc)
        now = time.monotonic()
        if self.tty:
            self.stream.write("\r" + text)
        elif text != self.last_text and now - self.last_s >= LINE_EVERY_S:
            self.stream.write(text + "\n")
            self.last_s = now
        self.last_text = text
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self.last_text:
            self.stream.write("\n")


def can_progress(doc: dict, sites: dict[str, processes.Child]) -> bool:
    """True while a live site job could still store a tile of the run: it is not complete nor
    cancelled, and some site job is up that owns missing tiles (any live site in a dynamic run)."""
    if doc["complete"] or doc.get("cancelled"):
        return False
    for name, job in sites.items():
        site = doc["sites"].get(name)
        if job.poll() is None and site is not None and (
                site["owned"] is None or site["stored"] < site["owned"]):
            return True
    return False


def follow(sites: dict[str, processes.Child], dashboard: processes.Child, client: DashboardClient,
           run_id: str) -> dict:
    """Show progress until no site job can add a tile to the run (normally: it is complete);
    return the final run document. The site jobs may keep running (serving sites do)."""
    progress = RunProgress()
    try:
        while True:
            if dashboard.poll() is not None:
                raise RuntimeError(f"the dashboard exited {dashboard.poll()} during the render:"
                                   f"\n{dashboard.log_tail()}")
            try:
                answer = client.get_run(run_id, timeout_s=10)
            except TRANSPORT_ERRORS:
                answer = None  # a busy moment; the next poll will tell
            if answer is not None and answer.status == 200:
                progress.show(answer.body)
                if not can_progress(answer.body, sites):
                    return answer.body
            elif all(job.poll() is not None for job in sites.values()):
                raise RuntimeError(f"GET api/runs/{run_id} failed after the render: "
                                   f"{answer.error if answer else 'no answer'}")
            time.sleep(POLL_S)
    finally:
        progress.close()


def verdict(doc: dict, sites: dict[str, processes.Child]) -> int:
    """Print the summary and any site job that ended (serving jobs must not: with its missing
    tiles and log); return the exit code (0 only for a complete run and every site job up)."""
    print("\n".join(report.summary_lines(doc)))
    missing = report.missing_by_site(doc)
    failed = False
    for name, job in sites.items():
        if job.poll() is not None:
            failed = True
            print(f"site {name} failed (exit {job.poll()}); its missing tiles: "
                  f"{report.tile_names(missing.get(name, [])) or 'none'}\n"
                  f"--- last output of site {name}:\n{job.log_tail()}",
                  file=sys.stderr)
    if doc.get("cancelled"):
        print(f"run {doc['id']} was cancelled", file=sys.stderr)
    return 0 if doc["complete"] and not failed else 1


def keep_serving(sites: dict[str, processes.Child], dashboard: processes.Child,
                 client: DashboardClient, known: set[str], stream=sys.stdout) -> None:
    """Until the dashboard exits: one line per new run, per finished run and per site job that
    ends (its sites' tiles of later runs will then stay missing). Returns when the dashboard ends.

    Args:
        known: ids of runs already reported (grows as runs are reported).
    """
    finished: set[str] = set(known)
    ended: set[str] = set()
    while dashboard.poll() is None:
        for name, job in sites.items():
            if job.poll() is not None and name not in ended:
                ended.add(name)
                stream.write(f"site {name} exited {job.poll()}; runs including it will miss its "
                             f"tiles\n--- last output of site {name}:\n{job.log_tail()}\n")
        try:
            answer = client.request("GET", "api/runs", timeout_s=10)
        except TRANSPORT_ERRORS:
            answer = None
        runs = answer.body.get("runs", []) if answer is not None and answer.status == 200 else []
        for run in reversed(runs):  # oldest first
            if run["id"] not in known:
                known.add(run["id"])
                stream.write(f"run {run['id']}: {run['total']} tiles\n")
            if run["id"] not in finished and (run["complete"] or run["cancelled"]):
                finished.add(run["id"])
                state = "cancelled" if run["cancelled"] and not run["complete"] else "complete"
                stream.write(f"run {run['id']}: {state}, tiles {run['stored']}/{run['total']}\n")
        stream.flush()
        time.sleep(POLL_S)


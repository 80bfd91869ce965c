"""Following a run from outside it: a progress display, waiting for site jobs, the verdict.

Used by ``mpi-render-demo``; reads the run document (``GET api/runs/{id}``) only.
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


def follow(sites: dict[str, processes.Child], dashboard: processes.Child, client: DashboardClient,
          run_id: str) -> dict:
    """Show progress until every site job has ended; return the final run document."""
    progress = RunProgress()
    try:
        while True:
            ended = all(job.poll() is not None for job in sites.values())
            if dashboard.poll() is not None:
                raise RuntimeError(f"the dashboard exited {dashboard.poll()} during the render:"
                                   f"\n{dashboard.log_tail()}")
            try:
                answer = client.get_run(run_id, timeout_s=10)
            except TRANSPORT_ERRORS:
                answer = None  # a busy moment; the next poll will tell
            if answer is not None and answer.status == 200:
                progress.show(answer.body)
                if ended:
                    return answer.body
            elif ended:
                raise RuntimeError(f"GET api/runs/{run_id} failed after the render: "
                                   f"{answer.error if answer else 'no answer'}")
            time.sleep(POLL_S)
    finally:
        progress.close()


def verdict(doc: dict, sites: dict[str, processes.Child]) -> int:
    """Print the summary and any failed site (with its missing tiles and log); return the code."""
    seconds = {name: job.ended_s - job.started_s for name, job in sites.items()}
    print("\n".join(report.summary_lines(doc, seconds)))
    missing = report.missing_by_site(doc)
    failed = False
    for name, job in sites.items():
        if job.poll() != 0:
            failed = True
            print(f"site {name} failed (exit {job.poll()}); its missing tiles: "
                  f"{report.tile_names(missing.get(name, [])) or 'none'}\n"
                  f"--- last output of site {name}:\n{job.log_tail()}",
                  file=sys.stderr)
    if not failed and not doc["complete"]:
        print("every site job exited 0 but tiles are missing (see above)", file=sys.stderr)
    return 0 if doc["complete"] and not failed else 1

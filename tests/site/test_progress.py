"""Rank 0's progress display: bar on a terminal, log lines otherwise, the summary line."""
import io
import logging

from mpi_render.site.progress import Progress


class Clock:
    def __init__(self):
        self.now_s = 100.0

    def __call__(self):
        return self.now_s


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_terminal_gets_a_redrawn_bar_and_a_summary():
    clock, stream = Clock(), Terminal()
    progress = Progress(4, lambda: 3, stream, clock=clock)
    for rank in (0, 1, 1, 2):
        clock.now_s += 0.5
        progress.tile_done(rank)
    assert stream.getvalue().count("\r") == 4
    last = stream.getvalue().rsplit("\r", 1)[1]
    assert last == "[" + "#" * 30 + "] 4/4 tiles  2.0 tiles/s  stored 3"
    assert progress.summary() == ("rendered 4/4 tiles in 2.00 s (2.0 tiles/s); "
                                  "per rank: 0=1 1=2 2=1; stored 3")
    assert stream.getvalue().endswith("\n")


def test_a_pipe_gets_periodic_log_lines_instead(caplog):
    clock, stream = Clock(), io.StringIO()
    progress = Progress(10, lambda: 0, stream, log_every_s=5.0, clock=clock)
    with caplog.at_level(logging.INFO, logger="mpi_render.site.progress"):
        for _ in range(10):
            clock.now_s += 1.0
            progress.tile_done(0)
    assert stream.getvalue() == ""
    assert [r.getMessage() for r in caplog.records] == ["5/10 tiles, 1.0 tiles/s, 0 stored",
                                                        "10/10 tiles, 1.0 tiles/s, 0 stored"]


def test_an_empty_job_summarises_without_dividing_by_zero():
    progress = Progress(0, lambda: 0, io.StringIO(), clock=Clock())
    assert progress.bar_line().startswith("[" + "." * 30 + "] 0/0 tiles")
    assert "per rank: -" in progress.summary()

"""``mpi-render``: one site's MPI job (and ``--resend`` of a spool, without MPI).

Every rank parses and validates the same arguments the same way *before* MPI is initialised,
so bad input ends every rank with exit code 2 and no collective is ever entered (nothing can
hang). Only the launcher's rank 0 (read from the launcher's environment) prints the one-line
error. This is the only module that imports ``mpi4py.MPI``.

Exit codes: 0 every tile of the site stored (or written with ``--out``; with ``--split
dynamic``: the run is complete and this site's tiles are stored; with ``--serve``: stopped by
SIGTERM or ``--idle-exit`` with everything delivered); 1 a permanent failure (render error,
tiles refused by the dashboard, a cancelled run); 2 bad input (also a run id whose config
differs on the dashboard, or a refused token); 3 the deadline passed with tiles still in the
spool.
"""
from __future__ import annotations

import logging
import os
import shlex
import sys
import time
from pathlib import Path

from .cliargs import Options, UsageError, build_parser, resolve
from .site.sinks import EXIT_OK, EXIT_USAGE, DirSink, SetupError, TeeSink

log = logging.getLogger(__name__)
PROG = "mpi-render"
# Environment variables that carry the process's rank before MPI is up, per launcher.
RANK_ENV = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "SLURM_PROCID")
# Set in ranks started by mpiexec/mpirun (MPICH hydra, Open MPI 4, Open MPI 5): under those the
# Slurm variables describe the launcher's own srun step, not the MPI job.
MPIEXEC_ENV = ("MPI_LOCALNRANKS", "OMPI_MCA_orte_hnp_uri", "PRTE_LAUNCHED")


def launcher_rank(environ=os.environ) -> int:
    """This process's rank as its launcher announced it (0 when started alone)."""
    for name in RANK_ENV:
        value = environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 0


def main(argv: list[str] | None = None, environ=None) -> int:
    """Run the command line; returns the exit code (see the module docstring)."""
    environ = os.environ if environ is None else environ
    is_root = launcher_rank(environ) == 0
    parser = build_parser(PROG)
    try:
        opts = resolve(parser, sys.argv[1:] if argv is None else argv, environ)
    except UsageError as exc:
        if exc.help_requested:
            if is_root:
                parser.print_help()
            return EXIT_OK
        if is_root:
            print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if opts.resend:
        _configure_logging(opts.log_level, "resend")
        return _resend(opts)
    stop_flag = _stop_flag(opts)  # before MPI: a SIGTERM during start-up is not lost either
    from mpi4py import MPI  # only now: bad input above never initialises MPI
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    _configure_logging(opts.log_level, f"{opts.site} rank {rank}/{size}")
    mismatch = slurm_mismatch(size, environ)
    if mismatch:
        if environ.get("SLURM_PROCID", "0") == "0":
            print(f"{PROG}: error: {mismatch}", file=sys.stderr)
        code = EXIT_USAGE
    elif opts.serve:
        code = _serve(opts, comm, stop_flag)
    elif opts.config.dynamic:
        from .site.dynamic import run_dynamic
        code = run_dynamic(opts.config, opts.site, _poster(opts, time.monotonic()),
                           dashboard_client(opts), kernels=opts.kernels, comm=comm)
    else:
        from .site import driver
        sink = make_sink(opts, time.monotonic()) if rank == 0 else None
        code = driver.run(opts.config, opts.site, kernels=opts.kernels, comm=comm, sink=sink)
    # Every rank agrees on `code`: finalize cleanly, else `python -m mpi4py` turns a non-zero
    # exit into MPI_Abort (and its noise). An exception skips this and aborts, as it should.
    MPI.Finalize()
    return code


def slurm_mismatch(size: int, environ) -> str | None:
    """A message when ``srun`` started ``N`` tasks but MPI sees a world of another size."""
    if any(name in environ for name in MPIEXEC_ENV):
        return None
    expected = environ.get("SLURM_STEP_NUM_TASKS") or environ.get("SLURM_NTASKS")
    if not expected or not expected.isdigit() or int(expected) == size:
        return None
    return (f"Slurm started {expected} tasks but MPI sees a world of {size}: the tasks did "
            f"not join one MPI job. Tell srun how to wire MPI: srun --mpi=pmi2 (MPICH, the "
            f"mpich wheel) or srun --mpi=pmix (Open MPI); see `srun --mpi=list`")


def make_sink(opts: Options, started_at: float):
    """Rank 0's sink for these options: the poster, the ``--out`` directory, or both."""
    sinks = []
    if opts.dashboard:
        sinks.append(_poster(opts, started_at))
    if opts.out:
        sinks.append(DirSink(opts.out))
    return sinks[0] if len(sinks) == 1 else TeeSink(*sinks)


def dashboard_client(opts: Options):
    """The site job's one way to reach the dashboard (token, timeout, TLS verification)."""
    from .site.client import DashboardClient
    return DashboardClient(opts.dashboard, opts.token, timeout_s=opts.http_timeout_s,
                           ca_file=opts.ca_file)


def _poster(opts: Options, started_at: float, run: str | None = None, config=None,
            spool: str | None = None):
    """Rank 0's poster of run ``run`` (default ``opts.run``), deadline counted from ``started_at``."""
    from .site.poster import BatchLimits, Poster
    from .site.spool import Spool
    run, config, spool = run or opts.run, config or opts.config, spool or opts.spool
    client = dashboard_client(opts)
    limits = BatchLimits(opts.batch_tiles, opts.batch_bytes, opts.batch_age_ms / 1000)
    return Poster(client, run, config, opts.site, Spool(spool), started_at + opts.deadline_s,
                  limits=limits, only_missing=opts.only_missing,
                  resend_hint=resend_command(opts, run, spool))


def _stop_flag(opts: Options):
    """``--serve``: every rank notes SIGTERM/SIGINT instead of dying (mpiexec and srun forward
    the signal to every rank); other jobs keep the default handlers."""
    if not opts.serve:
        return lambda: False
    from .site.serve import StopFlag
    return StopFlag().install()


def _serve(opts: Options, comm, stop_flag) -> int:
    from .site.serve import serve

    def open_run(run_id: str, config):
        poster = _poster(opts, time.monotonic(), run_id, config,
                         str(Path(opts.spool) / run_id / opts.site))
        poster.open([])
        return poster

    return serve(opts.site, dashboard_client(opts), open_run, kernels=opts.kernels, comm=comm,
                 idle_exit_s=opts.idle_exit_s, stop_requested=stop_flag)


def resend_command(opts: Options, run: str | None = None, spool: str | None = None) -> str:
    """The exact command that resends this job's spool (of ``run`` in ``spool``) later."""
    args = [PROG, "--resend", "--spool", str(Path(spool or opts.spool).resolve()), "--dashboard",
            opts.dashboard, "--run", run or opts.run, "--token-file",
            str(Path(opts.token_file).resolve())]
    if opts.ca_file:
        args += ["--ca-file", str(Path(opts.ca_file).resolve())]
    return " ".join(shlex.quote(a) for a in args)


def _resend(opts: Options) -> int:
    from .site.poster import resend
    from .site.spool import Spool
    client = dashboard_client(opts)
    try:
        delivery = resend(Spool(opts.spool), client, time.monotonic() + opts.deadline_s,
                          run_id=opts.run)
    except SetupError as exc:
        log.error("%s", exc)
        return exc.code
    except ValueError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    (log.info if delivery.exit_code == EXIT_OK else log.error)("%s", delivery.message)
    return delivery.exit_code


def _configure_logging(level: str, who: str) -> None:
    logging.basicConfig(
        level=level, stream=sys.stderr, force=True,
        format=f"%(asctime)s {who} %(name)s %(levelname)s: %(message)s", datefmt="%H:%M:%S")


"""Deep-zoom yardstick: fractalshades 1.2.1 renders one deep view, timed by phase.

Run it with the yardstick's own venv (built by ``bench/fractalshades_env.sh``, never the project's
.venv)::

    PY=$(bench/fractalshades_env.sh | tail -1)
    $PY bench/fractalshades_flake.py --out /tmp/fs-flake            # the Flake, 1024², BLA on
    $PY bench/fractalshades_flake.py --no-bla --out /tmp/fs-flake   # the same without BLA

Defaults: the Flake (Dinkydau's flake, width 1.7e-157), 1024 x 1024 pixels, max_iter 50,000, BLA
on with fractalshades' own default epsilon (1e-6), interior detection off (fractalshades' default),
both cores (fractalshades runs its 200 x 200 pixel chunks on a thread pool of os.cpu_count()
threads, and its numba loops release the GIL).

The view is given as in mpi-render (DESIGN.md, "Deep views"): ``--center=CX,CY`` and ``--width W``
as exact decimal strings, W the width of the whole square image, edge to edge. fractalshades'
``dx`` is a different length: the distance between the centres of the first and the last pixel of
a row (its pixel offsets run from -dx/2 to +dx/2 in nx steps of dx/(nx-1)). The script passes
``dx = W * (N-1) / N``, so that fractalshades samples exactly mpi-render's pixel centres
``cx - W/2 + (i + 0.5) * W/N`` (column i) and ``cy + W/2 - (j + 0.5) * W/N`` (row j, row 0 at the
top); the exported counts are indexed ``[j, i]`` like mpi-render's tiles.

Counts: fractalshades stops a pixel when ``|z_n|^2 > M^2`` and records n, the index of the first
escaped iterate, as mpi-render's contract does with M = 2 (``--bailout``, default 2, so the counts
can be compared pixel for pixel); a pixel that reaches max_iter (or that interior detection stops,
when switched on) counts max_iter.

Every run uses a fresh temporary directory for fractalshades' data (its reference orbit file and
raw arrays are cached there and would otherwise be reused), removed at the end. numba's on-disk
cache (fractalshades compiles part of its kernels with ``cache=True``) is the only cache that
survives a run: the first run after an install fills it. The closures fractalshades builds for
each calculation (its perturbation loop) are compiled in every process; ``--warm`` first renders a
64 x 64 version of the view in the same process and the same Fractal object, so that the timed
render pays no compilation at all (its reference orbit, BLA table and raw data are still computed
anew: the warm-up's in-memory orbit is dropped and a new data directory is used).

Output: one JSON line on stdout (nothing else is printed there; fractalshades' log goes to
``fractalshades.log`` in the output directory, its progress prints to stderr): ``wall_s`` from
the script's first line to the report, ``import_s``, ``warmup_s``, ``render_s``, and per phase
the wall seconds (``phases_s``) and the process's CPU seconds over all threads
(``phases_cpu_s``). ``calc_setup`` (zoom + calc_std_div) holds ``ref_period_search`` (ball
method), ``ref_newton`` (nucleus search), ``ref_orbit_mpfr`` (the MPFR loop) and ``bla_table``;
``plot`` holds ``pixel_loop`` (the raw escape data of every chunk) and then the smooth colouring
and the PNG. Also ``cpu_s`` and ``max_rss_mb`` of the process, the image size and counts summary,
the files written. Exit status 2 with a message naming the flag on bad arguments.
"""
import argparse
import decimal
import json
import logging
import os
import re
import resource
import shutil
import sys
import tempfile
import time

T_START = time.perf_counter()

FLAKE_CX = ("-1.99996619445037030418434688506350579675531241540724851511761922944801584242342684"
            "381376129778868913812287046406560949864353810575744772166485672496092803920095332")
FLAKE_CY = ("0.00000000000000000000000000000000030013824367909383240724973039775924987346831190"
            "773335270174257280120474975614823581185647299288414075519224186504978181625478529")
FLAKE_WIDTH = "1.7e-157"
DECIMAL = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")
WARM_PIXELS = 64
CALC_NAME = "div"
# fractalshades' stop codes of calc_std_div (Perturbation_mandelbrot): 0 max_iter, 1 divergence,
# 2 "stationnary" (interior detection).
REASON_DIVERGENCE = 1


def parse_args(argv):
    """Parses and checks the command line.

    Args:
        argv: the arguments after the program name.
    Returns:
        argparse.Namespace with cx, cy, width (decimal strings), pixels, max_iter, bla_eps (None
        when BLA is off), bailout, precision (decimal digits or None for automatic), out, counts,
        warm, keep_data, interior, dzndc.
    Raises:
        SystemExit(2) with a message naming the flag on bad input.
    """
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--center", default=f"{FLAKE_CX},{FLAKE_CY}",
                   help="CX,CY exact decimals (default: the Flake); write --center=CX,CY when "
                        "CX is negative")
    p.add_argument("--width", default=FLAKE_WIDTH,
                   help="width of the whole square image, edge to edge (default 1.7e-157)")
    p.add_argument("--pixels", type=int, default=1024, help="pixels per side (default 1024)")
    p.add_argument("--max-iter", type=int, default=50_000, help="default 50000")
    bla = p.add_mutually_exclusive_group()
    bla.add_argument("--bla", dest="bla", action="store_true", default=True,
                     help="bilinear approximation on (default)")
    bla.add_argument("--no-bla", dest="bla", action="store_false", help="BLA off")
    p.add_argument("--bla-eps", type=float, default=1e-6,
                   help="BLA_eps, fractalshades' relative error bound (its default 1e-6)")
    p.add_argument("--bailout", type=float, default=2.0,
                   help="escape radius M_divergence (default 2: mpi-render's count contract)")
    p.add_argument("--precision", type=int, default=None,
                   help="decimal digits of the reference orbit (default: what fractalshades "
                        "requires for the pixel size, plus 5)")
    p.add_argument("--interior", action="store_true",
                   help="fractalshades' interior detection (off by default, as in fractalshades)")
    p.add_argument("--dzndc", action="store_true",
                   help="also compute dz/dc (distance estimation; off: counts need no derivative)")
    p.add_argument("--out", default=None,
                   help="output directory for the PNG, the log and the counts (default: a new "
                        "directory under /tmp)")
    p.add_argument("--counts", default=None,
                   help="also write the escape counts (uint32, [row, col], row 0 at the top) to "
                        "this .npy file, and the stop reasons beside it (*_reason.npy)")
    p.add_argument("--warm", action="store_true",
                   help=f"render a {WARM_PIXELS}x{WARM_PIXELS} warm-up first in the same process "
                        "(JIT compiled before timing)")
    p.add_argument("--keep-data", action="store_true",
                   help="keep fractalshades' data directory (for inspection)")
    args = p.parse_args(argv)

    parts = args.center.split(",")
    if len(parts) != 2 or not all(DECIMAL.fullmatch(s.strip()) for s in parts):
        p.error(f"--center: expected CX,CY as two decimals, got {args.center!r}")
    args.cx, args.cy = (s.strip() for s in parts)
    if not DECIMAL.fullmatch(args.width) or float(args.width) <= 0:
        p.error(f"--width: expected a decimal > 0, got {args.width!r}")
    if args.pixels < 2:
        p.error("--pixels: must be >= 2")
    if args.max_iter < 1:
        p.error("--max-iter: must be >= 1")
    if args.bla_eps <= 0:
        p.error("--bla-eps: must be > 0")
    if args.bailout < 2:
        p.error("--bailout: must be >= 2 (a smaller radius changes which orbits escape)")
    if args.precision is not None and args.precision < 20:
        p.error("--precision: must be >= 20 decimal digits")
    if args.counts is not None and not args.counts.endswith(".npy"):
        p.error("--counts: the file name must end with .npy")
    args.bla_eps = args.bla_eps if args.bla else None
    return args


class PhaseClock:
    """Accumulates wall seconds and process CPU seconds (all threads) per phase name."""

    def __init__(self):
        self.wall = {}
        self.cpu = {}

    def wrap(self, name, func):
        """Returns func wrapped so that each call's times are added to phase `name`."""
        def timed(*args, **kwargs):
            start = self.start()
            try:
                return func(*args, **kwargs)
            finally:
                self.stop(name, start)
        return timed

    @staticmethod
    def start():
        return time.perf_counter(), time.process_time()

    def stop(self, name, start):
        """Adds the wall and CPU seconds since `start` (a start() value) to phase `name`."""
        self.wall[name] = self.wall.get(name, 0.0) + time.perf_counter() - start[0]
        self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - start[1]


def fs_dx(width, pixels):
    """fractalshades' dx for an image `width` wide edge to edge: (N-1)/N of it.

    Args:
        width: decimal string, the whole image's width (mpi-render's convention).
        pixels: N, pixels per side.
    Returns:
        decimal string of the distance between the first and the last pixel centre of a row
        (exact when N has no prime factor but 2 and 5, else to 60 significant digits).
    """
    with decimal.localcontext() as ctx:
        ctx.prec = 60
        return str(+(decimal.Decimal(width) * (pixels - 1) / pixels))


def required_precision(width, pixels):
    """The decimal digits fractalshades requires (PerturbationFractal.zoom raises below them):
    int(-log10(pixel / N) + 1), pixel = width / N; 163 for the Flake at 1024."""
    import mpmath
    with mpmath.workdps(30):
        pix = mpmath.mpf(width) / pixels
        return int(-mpmath.log10(pix / pixels) + 1)


def render(f, args, clock, nx, data_dir):
    """Renders the view with Fractal `f` into data_dir; returns the output PNG path.

    Args:
        f: a fractalshades.models.Perturbation_mandelbrot (reused between the warm-up and the timed
            render so that its compiled closures are reused).
        args: parse_args() result.
        clock: PhaseClock for the phases, or None (warm-up).
        nx: pixels per side.
        data_dir: a new, empty directory for fractalshades' data and image.
    """
    import fractalshades as fs
    import fractalshades.colors as fscolors
    import fractalshades.projection
    from fractalshades.colors.layers import Bool_layer, Color_layer
    from fractalshades.postproc import Continuous_iter_pp, Postproc_batch, Raw_pp

    f.directory = data_dir
    # The in-memory copy of a previous reference orbit would be reused (ref_point_matching):
    # drop it, so that every render computes its own.
    for attr in ("_FP_params", "_Zn_path"):
        if hasattr(f, attr):
            delattr(f, attr)

    setup = PhaseClock.start()
    f.zoom(precision=args.precision, x=args.cx, y=args.cy, dx=fs_dx(args.width, nx), nx=nx,
           xy_ratio=1.0, theta_deg=0.0, projection=fs.projection.Cartesian())
    # calc_std_div computes the reference orbit (ball method, Newton, MPFR loop), the orbit's
    # derivatives and the BLA table at once (its calc hook); the pixel loop runs in plot().
    f.calc_std_div(calc_name=CALC_NAME, subset=None, max_iter=args.max_iter,
                   M_divergence=args.bailout, epsilon_stationnary=1e-3, BLA_eps=args.bla_eps,
                   interior_detect=args.interior, calc_dzndc=args.dzndc)
    if clock is not None:
        clock.stop("calc_setup", setup)
    plot = PhaseClock.start()

    pp = Postproc_batch(f, CALC_NAME)
    pp.add_postproc("smooth", Continuous_iter_pp())
    pp.add_postproc("interior", Raw_pp("stop_reason", func="x != 1."))
    plotter = fs.Fractal_plotter(pp)
    plotter.add_layer(Bool_layer("interior", output=False))
    # Colour from the smooth count, one colormap sweep per 200 iterations, mirrored beyond
    # (deep views' counts span thousands of iterations across the image).
    plotter.add_layer(Color_layer("smooth", func=None, colormap=fscolors.cmap_register["classic"],
                                  probes_z=[0.0, 200.0], output=True))
    plotter["smooth"].set_mask(plotter["interior"], mask_color=(0.0, 0.0, 0.0))
    plotter.plot()
    if clock is not None:
        clock.stop("plot", plot)
    return os.path.join(data_dir, plotter.image_name(plotter["smooth"]) + ".png")


def read_counts(f, max_iter):
    """The escape counts of the last render, as mpi-render's contract states them.

    Returns:
        (counts, reason): uint32 and int8 arrays (ny, nx), row 0 at the top, column 0 at the left;
        counts = fractalshades' stop_iter where the pixel escaped, max_iter elsewhere.
    """
    import numpy as np
    counts = np.zeros((f.ny, f.nx), dtype=np.uint32)
    reason = np.zeros((f.ny, f.nx), dtype=np.int8)
    for chunk in f.chunk_slices():
        ix, ixx, iy, iyy = chunk
        _, _, _, _, stop_reason, stop_iter = f.reload_data(chunk, CALC_NAME)
        shape = (iyy - iy, ixx - ix)  # chunk_pixel_pos: meshgrid 'xy', rows first, top row first
        reason[iy:iyy, ix:ixx] = stop_reason[0].reshape(shape)
        counts[iy:iyy, ix:ixx] = stop_iter[0].reshape(shape)
    counts[reason != REASON_DIVERGENCE] = max_iter
    return counts, reason


def instrument(f, clock):
    """Times fractalshades' phases by wrapping the methods that implement them on instance `f`."""
    for method, phase in (("ball_method", "ref_period_search"),
                          ("find_nucleus", "ref_newton"), ("find_any_nucleus", "ref_newton"),
                          ("compute_FP_orbit", "ref_orbit_mpfr"),
                          ("get_BLA_tree", "bla_table"),
                          ("calc_raw", "pixel_loop")):
        setattr(f, method, clock.wrap(phase, getattr(f, method)))


def log_to_file(path):
    """Sends fractalshades' log to `path` only (its default console handler writes to stdout)."""
    logger = logging.getLogger("fractalshades")
    for handler in logger.handlers[:]:
        logger.removeHandler(handler)
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(funcName)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def json_stdout():
    """Returns a text stream on the real stdout and points file descriptor 1 at stderr.

    fractalshades prints progress with print() (its Cython reference loop among others): from
    here on everything but the report goes to stderr, so stdout carries the JSON line alone.
    """
    sys.stdout.flush()
    report = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    return report


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    report_stream = json_stdout()
    try:
        t0 = time.perf_counter()
        import fractalshades  # noqa: F401  (numba, mpmath, gmpy2: the import cost is reported)
        import_s = time.perf_counter() - t0
    except ImportError as exc:
        print(f"fractalshades_flake: {exc}; run it with the yardstick's venv: "
              "$(bench/fractalshades_env.sh | tail -1) bench/fractalshades_flake.py", file=sys.stderr)
        return 2
    precision_floor = required_precision(args.width, args.pixels)
    if args.precision is None:
        args.precision = precision_floor + 5
    elif args.precision < precision_floor:
        print(f"fractalshades_flake: --precision {args.precision} is below the {precision_floor} "
              "digits fractalshades requires for this pixel size", file=sys.stderr)
        return 2
    result = run(args, args.out or tempfile.mkdtemp(prefix="fractalshades-out-"))
    result["import_s"] = round(import_s, 4)
    result["wall_s"] = round(time.perf_counter() - T_START, 4)
    print(json.dumps(result), file=report_stream, flush=True)
    return 0


def run(args, out):
    """Renders the view of `args` (after a warm-up when args.warm) and writes the outputs to `out`.

    Returns:
        the report as a dict (without wall_s and import_s, which main adds).
    """
    import fractalshades as fs
    import fractalshades.models as fsm
    import numpy as np

    os.makedirs(out, exist_ok=True)
    log_to_file(os.path.join(out, "fractalshades.log"))
    fs.settings.enable_multithreading = True
    f = fsm.Perturbation_mandelbrot(tempfile.mkdtemp(prefix="fractalshades-data-"))
    data_dirs = [f.directory]
    warm_s = None
    if args.warm:
        t0 = time.perf_counter()
        render(f, args, None, WARM_PIXELS, f.directory)
        warm_s = time.perf_counter() - t0
        data_dirs.append(tempfile.mkdtemp(prefix="fractalshades-data-"))

    clock = PhaseClock()
    instrument(f, clock)
    t0 = time.perf_counter()
    png = render(f, args, clock, args.pixels, data_dirs[-1])
    render_s = time.perf_counter() - t0

    files = {"png": os.path.join(out, "fractalshades_smooth.png"),
             "log": os.path.join(out, "fractalshades.log")}
    shutil.move(png, files["png"])
    counts, reason = read_counts(f, args.max_iter)
    if args.counts:
        files["counts"] = args.counts
        files["reason"] = args.counts[:-len(".npy")] + "_reason.npy"
        np.save(files["counts"], counts)
        np.save(files["reason"], reason)
    if args.keep_data:
        files["data"] = data_dirs[-1]
    else:
        for d in data_dirs:
            shutil.rmtree(d, ignore_errors=True)

    escaped = reason == REASON_DIVERGENCE
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "tool": f"fractalshades {fs.__version__}",
        "view": {"cx": args.cx, "cy": args.cy, "width": args.width},
        "fs_dx": fs_dx(args.width, args.pixels),
        "pixels": args.pixels, "max_iter": args.max_iter,
        "bla_eps": args.bla_eps, "bailout": args.bailout, "precision_digits": args.precision,
        "interior_detect": args.interior, "dzndc": args.dzndc,
        "threads": os.cpu_count(),
        "warmup_s": None if warm_s is None else round(warm_s, 4),
        "render_s": round(render_s, 4),
        "phases_s": {k: round(v, 4) for k, v in clock.wall.items()},
        "phases_cpu_s": {k: round(v, 3) for k, v in clock.cpu.items()},
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "max_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "escaped": int(escaped.sum()), "not_escaped": int((~escaped).sum()),
        "iterations": int(counts.sum(dtype=np.uint64)),
        "count_min": int(counts.min()), "count_max_escaped": int(counts[escaped].max(initial=0)),
        "files": files,
    }


if __name__ == "__main__":
    sys.exit(main())

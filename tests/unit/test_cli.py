"""mpi-render's command line: validation (exit 2, one line, rank 0 only), env fallbacks, docs."""
import re
import subprocess
import sys

import pytest
from support import REPO

from mpi_render import cli
from mpi_render.cliargs import FLAGS, UsageError, build_parser, derived_run_id, resolve
from mpi_render.locations import LOCATIONS
from mpi_render.view import View

BASE = ["--grid", "4", "--tile", "64", "--site", "onprem", "--sites", "onprem,cloud"]


@pytest.fixture
def token_file(tmp_path):
    path = tmp_path / "token"
    path.write_text("  secret-token \n")
    path.chmod(0o600)
    return str(path)


def parse(argv, environ=None):
    return resolve(build_parser("mpi-render"), argv, environ or {})


def run_main(argv, capsys, environ=None):
    code = cli.main(argv, environ or {})
    captured = capsys.readouterr()
    return code, captured.out, captured.err


BAD_INPUTS = [
    (["--grid", "0", "--out", "d"], "grid must be an integer in 1..64"),
    (["--grid", "65", "--out", "d"], "grid must be an integer in 1..64"),
    (["--grid", "four", "--out", "d"], "--grid must be an integer"),
    (["--tile", "8", "--out", "d"], "tile must be an integer in 16..2048"),
    (["--tile", "4096", "--out", "d"], "tile must be an integer in 16..2048"),
    (["--palette", "rainbow", "--out", "d"], "valid palettes: electric, fire, ocean, cosmic"),
    (["--center=1", "--out", "d"], "--center must be X,X"),
    (["--center=a,b", "--out", "d"], "--center must be a decimal like -0.75"),
    (["--center=1", "--out", "d"], "--center must be X,X"),
    (["--center=nan,0", "--out", "d"], "--center must be a decimal like"),
    (["--center=0,Infinity", "--out", "d"], "--center must be a decimal like"),
    (["--center=0,1e-99999999", "--out", "d"], "--center is below 1e-5000 in magnitude"),
    (["--center=0,1" + "0" * 5000, "--out", "d"], "--center has 5001 characters"),
    (["--width", "0", "--out", "d"], "--width must be > 0"),
    (["--width=-1e-200", "--out", "d"], "--width must be > 0"),
    (["--width", "1.7e-157.5", "--out", "d"], "--width must be a decimal like"),
    (["--max-iter", "100000001", "--out", "d"], "max_iter must be an integer in 1..100000000"),
    (["--site", "mars", "--out", "d"], "--site 'mars' is not in --sites onprem,cloud"),
    (["--weights", "0.5,0.4", "--out", "d"], "weights must sum to 1"),
    (["--weights", "0.5", "--out", "d"], "one value per site"),
    (["--split", "striped", "--out", "d"], "split must be one of contiguous, interleaved"),
    (["--backend", "cuda", "--out", "d"], "--backend: backend 'cuda' is unknown"),
    (["--dashboard", "ftp://host/", "--token-file", "t"], "must be http:// or https://"),
    (["--dashboard", "http://127.0.0.1:1/", "--token-file", "/nonexistent/token"],
     "cannot read token file /nonexistent/token"),
    (["--dashboard", "http://127.0.0.1:1/"], "--token-file PATH is required"),
    ([], "give --dashboard URL or --out DIR"),
    (["--only-missing", "--out", "d"], "--only-missing asks the dashboard"),
    (["--run", "bad/id", "--out", "d"], "run id must match"),
    (["--deadline", "-1", "--out", "d"], "--deadline must be > 0"),
    (["--batch-tiles", "0", "--out", "d"], "--batch-tiles must be >= 1"),
    (["--log-level", "loud", "--out", "d"], "--log-level must be one of"),
    (["--no-such-flag", "--out", "d"], "unrecognized arguments: --no-such-flag"),
    (["--grid", "--out", "d"], "argument --grid: expected one argument"),
]


@pytest.mark.parametrize("extra, message", BAD_INPUTS)
def test_bad_input_is_one_line_and_exit_2(extra, message, capsys):
    code, out, err = run_main(BASE + extra, capsys)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("mpi-render: error: "), err
    assert message in err


def test_site_is_required_and_the_error_shows_an_example(capsys):
    code, _, err = run_main(["--out", "d"], capsys)
    assert code == 2
    assert "--site is required (one of cloud,onprem), e.g. mpi-render --site" in err


def test_only_rank_0_prints_but_every_rank_exits_2(capsys):
    for environ, printed in [({"PMI_RANK": "1"}, False), ({"OMPI_COMM_WORLD_RANK": "3"}, False),
                             ({"PMI_RANK": "0"}, True), ({}, True)]:
        code, _, err = run_main(BASE + ["--grid", "0", "--out", "d"], capsys, environ)
        assert code == 2
        assert bool(err) is printed, environ


def test_resend_needs_spool_dashboard_and_token(capsys):
    code, _, err = run_main(["--resend", "--dashboard", "http://127.0.0.1:1/"], capsys)
    assert code == 2 and "--resend needs --spool DIR" in err


def test_bad_environment_values_name_the_variable(capsys):
    code, _, err = run_main(["--site", "cloud", "--out", "d"], capsys, {"MPI_RENDER_GRID": "many"})
    assert code == 2 and "--grid (from MPI_RENDER_GRID) must be an integer" in err
    code, _, err = run_main(["--site", "cloud", "--out", "d"], capsys,
                            {"MPI_RENDER_ONLY_MISSING": "maybe"})
    assert code == 2 and "--only-missing (from MPI_RENDER_ONLY_MISSING) must be one of" in err


def test_every_flag_falls_back_to_its_environment_variable(tmp_path, token_file, private_ca):
    environ = {"MPI_RENDER_GRID": "5", "MPI_RENDER_TILE": "32", "MPI_RENDER_PALETTE": "Ocean",
               "MPI_RENDER_MAX_ITER": "99", "MPI_RENDER_CENTER": "-0.5,0.25",
               "MPI_RENDER_WIDTH": "2", "MPI_RENDER_SITE": "b", "MPI_RENDER_SITES": "a,b",
               "MPI_RENDER_SPLIT": "contiguous", "MPI_RENDER_WEIGHTS": "0.25,0.75",
               "MPI_RENDER_BACKEND": "numpy", "MPI_RENDER_DASHBOARD_URL": "https://h/p/dash",
               "MPI_RENDER_RUN": "r1", "MPI_RENDER_TOKEN_FILE": token_file,
               "MPI_RENDER_OUT": "o", "MPI_RENDER_SPOOL": "s", "MPI_RENDER_ONLY_MISSING": "yes",
               "MPI_RENDER_DEADLINE": "12.5", "MPI_RENDER_BATCH_TILES": "7",
               "MPI_RENDER_BATCH_BYTES": "1000", "MPI_RENDER_BATCH_AGE_MS": "10",
               "MPI_RENDER_HTTP_TIMEOUT": "3", "MPI_RENDER_LOG_LEVEL": "debug",
               "MPI_RENDER_CA_FILE": str(private_ca.ca_file), "MPI_RENDER_NO_SHORTCUTS": "yes",
               "MPI_RENDER_KERNEL": "Perturbation"}
    modes = {"MPI_RENDER_RESEND", "MPI_RENDER_SERVE", "MPI_RENDER_IDLE_EXIT",
             "MPI_RENDER_LOCATION"}  # tested separately
    assert set(environ) | modes == {flag.env for flag in FLAGS}
    opts = parse([], environ)
    config = opts.config
    assert (config.grid, config.tile_px, config.palette, config.max_iter) == (5, 32, "ocean", 99)
    assert (config.center, config.width, config.sites) == (("-0.5", "0.25"), "2", ("a", "b"))
    assert config.weights == (0.25, 0.75)
    assert (opts.site, opts.kernels.backend, opts.dashboard, opts.run) == ("b", "numpy",
                                                                  "https://h/p/dash/", "r1")
    assert (opts.token, opts.out, opts.spool, opts.only_missing) == ("secret-token", "o", "s", True)
    assert (opts.deadline_s, opts.batch_tiles, opts.batch_bytes) == (12.5, 7, 1000)
    assert (opts.batch_age_ms, opts.http_timeout_s, opts.log_level) == (10.0, 3.0, "DEBUG")
    assert opts.kernels.shortcuts is False and opts.kernels.kernel == "perturbation"
    assert opts.ca_file == str(private_ca.ca_file)


def test_a_ca_file_that_holds_no_certificate_is_a_usage_error(tmp_path):
    junk = tmp_path / "junk.pem"
    junk.write_text("no certificate here\n")
    with pytest.raises(UsageError, match=r"--ca-file \(from MPI_RENDER_CA_FILE\): CA file .* "
                                         "holds no usable PEM certificate"):
        parse(BASE + ["--out", "d"], {"MPI_RENDER_CA_FILE": str(junk)})


def test_serve_falls_back_to_its_environment_variables(token_file):
    environ = {"MPI_RENDER_SERVE": "1", "MPI_RENDER_IDLE_EXIT": "2.5", "MPI_RENDER_SITE": "cloud",
               "MPI_RENDER_DASHBOARD_URL": "http://h:1", "MPI_RENDER_TOKEN_FILE": token_file,
               "MPI_RENDER_GRID": "5"}  # an image variable is ignored: each run brings its own
    opts = parse([], environ)
    assert (opts.serve, opts.idle_exit_s, opts.site, opts.config, opts.run) == (
        True, 2.5, "cloud", None, None)
    assert (opts.dashboard, opts.token, opts.spool) == ("http://h:1/", "secret-token",
                                                        "mpi-render-spool")
    assert opts.kernels.shortcuts is True
    assert parse([], dict(environ, MPI_RENDER_NO_SHORTCUTS="1")).kernels.shortcuts is False


SERVE = ["--serve", "--site", "cloud", "--dashboard", "http://h:1"]


@pytest.mark.parametrize("argv, message", [
    (SERVE + ["--grid", "4"], "--serve takes each run's image from the dashboard: drop --grid"),
    (SERVE + ["--run", "r", "--out", "d"], "drop --run, --out"),
    (["--serve", "--site", "cloud"], "--serve needs --site NAME, --dashboard URL and --token-file"),
    (["--serve", "--site", "no/pe", "--dashboard", "http://h:1", "--token-file", "t"],
     "site names must match"),
    (SERVE + ["--idle-exit", "0"], "--idle-exit must be > 0"),
    (BASE + ["--out", "d", "--idle-exit", "5"], "--idle-exit applies to --serve only"),
    (BASE + ["--split", "dynamic", "--out", "d"], "--split dynamic claims tiles from the dashboard"),
    (BASE + ["--split", "dynamic", "--dashboard", "http://h:1", "--out", "d"],
     "--split dynamic renders what it claims: drop --out"),
], ids=["image-flag", "run-and-out", "missing", "bad-site", "idle-exit-0", "idle-without-serve",
        "dynamic-no-dashboard", "dynamic-out"])
def test_serve_and_dynamic_refuse_bad_combinations(argv, message, token_file):
    needs_token = "--dashboard" in argv and "--token-file" not in argv
    with pytest.raises(UsageError) as err:
        parse(argv + (["--token-file", token_file] if needs_token else []), {})
    assert message in str(err.value)


def test_a_deep_view_reaches_the_config_digit_for_digit():
    cx = "-1.9999661944503703041843468850635057967553124154072485151176192294480158424234268438137"
    opts = parse(BASE + ["--out", "d", f"--center={cx},3.0013824367909383240724973e-34",
                         "--width", "1.7e-157", "--max-iter", "100000000"])
    assert opts.config.center == (cx, "3.0013824367909383240724973e-34")
    assert opts.config.width == "1.7e-157" and opts.config.max_iter == 100_000_000
    assert opts.config.run_json()["view"] == {"cx": cx, "cy": "3.0013824367909383240724973e-34",
                                              "width": "1.7e-157"}


def test_a_location_sets_the_view_and_max_iter_unless_max_iter_is_given():
    flake = parse(BASE + ["--out", "d", "--location", "Flake"]).config
    assert (flake.center, flake.width, flake.max_iter) == (
        (LOCATIONS["flake"].cx, LOCATIONS["flake"].cy), "1.7e-157", 50_000)
    assert parse(BASE + ["--out", "d", "--location", "flake", "--max-iter", "9"]).config.max_iter == 9
    via_env = parse(BASE + ["--out", "d"], {"MPI_RENDER_LOCATION": "seahorse"}).config
    assert via_env.view == LOCATIONS["seahorse"].view()


@pytest.mark.parametrize("argv, environ, message", [
    (["--location", "atlantis"], {}, "--location: unknown location 'atlantis'; known locations: full"),
    (["--location", "flake", "--width", "1"], {}, "--location sets the view: drop --width"),
    (["--location", "flake"], {"MPI_RENDER_CENTER": "0,0"}, "drop --center (or drop --location)"),
])
def test_a_location_with_its_own_view_flags_or_an_unknown_name_is_refused(argv, environ, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        parse(BASE + ["--out", "d"] + argv, environ)


def test_the_derived_run_id_is_the_same_for_every_spelling_of_a_view():
    ids = {parse(BASE + ["--out", "d", f"--center={cx}", "--width", width]).run
           for cx, width in (("-0.75,0", "3"), ("-75e-2,0.0", "3.000"), ("-0.750,-0", "30e-1"))}
    assert len(ids) == 1
    assert parse(BASE + ["--out", "d", "--center=-0.75,1e-300"]).run not in ids


def test_the_command_line_beats_the_environment():
    opts = parse(BASE + ["--out", "d", "--grid", "3"], {"MPI_RENDER_GRID": "9"})
    assert opts.config.grid == 3


def test_defaults_match_the_design():
    opts = parse(["--site", "cloud", "--out", "d"])
    config = opts.config
    assert (config.grid, config.tile_px, config.palette) == (8, 256, "electric")
    assert (config.view, config.sites, config.split) == (
        View(-0.75, 0.0, 3.0), ("cloud", "onprem"), "contiguous")
    assert (opts.deadline_s, opts.batch_tiles, opts.batch_bytes, opts.batch_age_ms) == (
        600.0, 32, 4 << 20, 250.0)
    assert opts.dashboard is None and not opts.only_missing
    assert opts.kernels.shortcuts is True
    assert parse(["--site", "cloud", "--out", "d", "--no-shortcuts"]).kernels.shortcuts is False


def test_the_run_id_is_derived_from_the_config_so_sites_agree(token_file):
    common = ["--dashboard", "http://h/", "--token-file", token_file, "--sites", "a,b"]
    one = parse(common + ["--site", "a"])
    two = parse(common + ["--site", "b"])
    other = parse(common + ["--site", "a", "--palette", "fire"])
    assert one.run == two.run == derived_run_id(one.config)
    assert re.fullmatch(r"run-[0-9a-f]{12}", one.run)
    assert other.run != one.run
    assert one.spool.endswith(f"mpi-render-spool/{one.run}/a")


def test_help_is_printed_on_rank_0_only_and_exits_0(capsys):
    code, out, _ = run_main(["--help"], capsys)
    assert code == 0 and "--only-missing" in out and "MPI_RENDER_DASHBOARD_URL" in out
    code, out, _ = run_main(["--help"], capsys, {"PMI_RANK": "2"})
    assert code == 0 and out == ""


@pytest.mark.parametrize("environ, size, complaint", [
    ({"SLURM_NTASKS": "3"}, 1, True),
    ({"SLURM_NTASKS": "3", "SLURM_STEP_NUM_TASKS": "2"}, 2, False),
    ({"SLURM_NTASKS": "4"}, 4, False),
    ({"SLURM_NTASKS": "4", "MPI_LOCALNRANKS": "2"}, 2, False),  # mpiexec inside an allocation
    ({}, 3, False),
])
def test_slurm_task_count_must_match_the_mpi_world(environ, size, complaint):
    message = cli.slurm_mismatch(size, environ)
    assert bool(message) is complaint
    if complaint:
        assert "srun --mpi=pmi2" in message and "--mpi=pmix" in message


def test_resend_command_is_copy_pasteable(tmp_path, token_file):
    opts = parse(BASE + ["--dashboard", "http://h:1/", "--token-file", token_file,
                         "--spool", str(tmp_path / "my spool"), "--run", "r1"])
    command = cli.resend_command(opts)
    assert command.startswith("mpi-render --resend --spool ")
    assert f"'{tmp_path / 'my spool'}'" in command
    assert command.endswith(f"--dashboard http://h:1/ --run r1 --token-file {token_file}")


def test_bad_input_never_initialises_mpi():
    code = ("import sys; from mpi_render.cli import main; rc = main(['--grid', '0', '--site', 'a',"
            " '--sites', 'a', '--out', 'd'], {}); assert rc == 2, rc; "
            "assert 'mpi4py.MPI' not in sys.modules; print('ok')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


def test_docs_table_lists_every_flag_with_its_variable():
    text = (REPO / "docs" / "CLI.md").read_text()
    rows = {line for line in text.splitlines() if line.startswith("| `--")}
    for flag in FLAGS:
        assert any(line.startswith(f"| `{flag.name}") and f"`{flag.env}`" in line
                   for line in rows), f"docs/CLI.md has no row for {flag.name} / {flag.env}"
    documented = set(re.findall(r"MPI_RENDER_[A-Z_]+", "\n".join(rows)))
    assert documented == {flag.env for flag in FLAGS}

"""Run every benchmark script and print their tables (what ``make bench`` calls).

Usage: ``.venv/bin/python bench/run_all.py [--quick] [--only kernel,e2e,...] [--out FILE]``

Each script runs in its own process, one after the other (the machine has 2 cores: running
them together would measure the contention, not the code), with ``--quick`` passed through
(one round, small sizes: a smoke run of well under a minute per script). Every script's tables
are streamed as they come; the run ends with a summary of exit codes and durations, and exits
non-zero if any script failed or is missing. ``--out`` also writes all tables to a file.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
# name -> script, in run order: the cheap single-process ones first, the browser last.
SCRIPTS = {
    "kernel": "bench_kernel.py",
    "deep": "bench_deep.py",
    "share": "bench_share.py",
    "flake": "bench_flake.py",
    "tile": "bench_tile.py",
    "e2e": "bench_e2e.py",
    "scaling": "bench_scaling.py",
    "dashboard": "bench_dashboard.py",
    "replay": "bench_replay.py",
    "elastic": "bench_elastic.py",
    "explorer": "bench_explorer.py",
}
TIMEOUT_S = {"quick": 300, "full": 1200}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one round, small sizes (smoke run)")
    parser.add_argument("--only", default=",".join(SCRIPTS),
                        help=f"comma-separated subset of {','.join(SCRIPTS)}")
    parser.add_argument("--out", type=Path, help="also write every table to this file")
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in args.only if name not in SCRIPTS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(SCRIPTS)}")
    return args


def run_script(name: str, quick: bool) -> tuple[int | str, float, str]:
    """Run one script, streaming its output; returns ``(exit code or reason, seconds, output)``."""
    script = BENCH_DIR / SCRIPTS[name]
    if not script.exists():
        return "missing", 0.0, ""
    cmd = [sys.executable, str(script)] + (["--quick"] if quick else [])
    start = time.perf_counter()
    lines = []
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          cwd=BENCH_DIR.parent) as proc:
        deadline = start + TIMEOUT_S["quick" if quick else "full"]
        for line in proc.stdout:  # the scripts print a table at a time, so this rarely blocks long
            print(line, end="", flush=True)
            lines.append(line)
            if time.perf_counter() > deadline:
                proc.kill()
                return "timeout", time.perf_counter() - start, "".join(lines)
        code = proc.wait()
    return code, time.perf_counter() - start, "".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    summary, outputs = [], []
    for name in args.only:
        print(f"\n<!-- bench/{SCRIPTS[name]}{' --quick' if args.quick else ''} -->", flush=True)
        code, seconds, output = run_script(name, args.quick)
        summary.append((name, code, seconds))
        outputs.append(output)
    print("\n## Benchmark run summary\n")
    print("| script | result | seconds |\n|---|---|---:|")
    for name, code, seconds in summary:
        print(f"| {SCRIPTS[name]} | {'ok' if code == 0 else code} | {seconds:.1f} |")
    if args.out:
        args.out.write_text("\n\n".join(outputs))
    return 0 if all(code == 0 for _, code, _ in summary) else 1


if __name__ == "__main__":
    sys.exit(main())

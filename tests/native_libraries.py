"""Helpers for the tests of the prebuilt native libraries (the escape kernel, the deep kernels,
the colour mapping): a fresh Python process with its own library cache, and what a library
needs from the system at load time."""
from __future__ import annotations

import os
import subprocess
import sys

# what the C runtime itself brings (nothing a library of ours calls on purpose)
RUNTIME_SYMBOLS = frozenset({"memset", "memcpy", "memmove", "__cxa_finalize", "__gmon_start__",
                             "_ITM_deregisterTMCloneTable", "_ITM_registerTMCloneTable"})


def start_process(code: str, cache_dir, **env) -> list[str]:
    """Run ``code`` in a new interpreter whose library cache is ``cache_dir``; its stdout
    split into words (a failure fails the test with the process's stderr)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=600, env=dict(os.environ, MPI_RENDER_CACHE_DIR=str(cache_dir),
                                                **env))
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def undefined_symbols(library) -> set[str]:
    """The names the shared library at ``library`` needs from others, beyond the C runtime's
    (``nm -D --undefined-only``)."""
    undefined = subprocess.run(["nm", "-D", "--undefined-only", str(library)], check=True,
                               capture_output=True, text=True).stdout.split()
    return {word.split("@")[0] for word in undefined if word not in ("U", "w")} \
        - RUNTIME_SYMBOLS

#!/usr/bin/env bash
# Bootstrap this checkout on Debian 12 (root, or a user with sudo): the apt packages a profile
# needs (only those missing: `apt-get update` runs once, and only when something must be installed),
# then the venv (.venv, or $MPI_RENDER_VENV) with this package installed editable plus the extras
# test, numba and mpich (MPI comes from the `mpich` wheel, mpi4py from its wheel).
#
# Idempotent and fast the second time: the pip step is skipped while the stamp file in the venv
# matches the hash of setup.py + pyproject.toml and the package still imports. Last, a kernel
# warm-up fills numba's cache and builds the native kernel library (0.2 s when both exist).
#
# usage: scripts/bootstrap.sh [demo|bench|test]      (default: test)
#   demo   the venv, and gcc and libc6-dev when it can install them (`cc -shared` links the numba
#          kernel's native library once, so ranks start without importing numba:
#          mpi_render/kernels/native.py); without root or sudo it notes what is missing and goes on
#   bench  + make (the C yardstick bench/yardstick.py compiles bench/yardstick.c;
#          needs libgomp, which gcc brings), chromium and a font (the browser replay benchmark)
#   test   + chromium and a font (browser tests and screenshots), slurmctld slurmd slurm-client
#          munge (the local Slurm the tests start), iproute2 (network-namespace tests), procps, curl,
#          openssl (the private CA of the TLS tests and of `mpi-render-demo --tls`)
set -euo pipefail

profile=${1:-test}
repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${MPI_RENDER_VENV:-$repo/.venv}
python=${PYTHON:-python3}

# optional_pkgs are installed when the script can (root or sudo); without them it goes on.
optional_pkgs=()
case $profile in
  demo)  apt_pkgs=(); optional_pkgs=(gcc libc6-dev) ;;
  bench) apt_pkgs=(gcc libc6-dev make chromium fonts-dejavu-core) ;;
  test)  apt_pkgs=(gcc libc6-dev make chromium fonts-dejavu-core slurmctld slurmd slurm-client
                   munge iproute2 procps curl openssl) ;;
  *) echo "bootstrap: unknown profile '$profile'; use one of demo, bench, test" \
          "(e.g. scripts/bootstrap.sh test)" >&2
     exit 2 ;;
esac

# A Python without ensurepip (Debian splits it into python3-venv) cannot create the venv.
if [ ! -x "$venv/bin/python" ] && ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
  apt_pkgs+=(python3-venv)
fi

# not_installed, apt_root, apt_install
source "$repo/scripts/apt.sh"
missing=($(not_installed "${apt_pkgs[@]}"))
missing_optional=($(not_installed "${optional_pkgs[@]}"))

if ! apt_root; then
  if [ ${#missing[@]} -gt 0 ]; then
    echo "bootstrap: missing Debian packages: ${missing[*]}; as root run:" \
         "apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  if [ ${#missing_optional[@]} -gt 0 ]; then
    echo "bootstrap: note: ${missing_optional[*]} not installed (no root or sudo): the numba" \
         "kernel's native library cannot be linked, so every process loads numba (~1 s more" \
         "per rank); as root: apt-get install -y ${missing_optional[*]}" >&2
  fi
  missing_optional=()
fi
missing+=("${missing_optional[@]}")

if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}"
  apt_install "${missing[@]}"
  echo "bootstrap: apt done after ${SECONDS} s"
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "bootstrap: creating $venv"
  "$python" -m venv "$venv"
fi

stamp=$venv/.mpi-render-install
want=$(cat "$repo/setup.py" "$repo/pyproject.toml" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || ! "$venv/bin/python" -c 'import mpi_render' 2>/dev/null
then
  echo "bootstrap: pip install -e '.[test,numba,mpich]' into $venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --root-user-action=ignore \
    -e "$repo[test,numba,mpich]"
  echo "$want" > "$stamp"
  echo "bootstrap: pip done after ${SECONDS} s"
fi
# numba's kernel cache and the native kernel library (mpi_render/kernels/native.py), so that no
# test or demo process pays for compiling them; a no-op (0.2 s) when both are there.
"$venv/bin/python" -c 'from mpi_render.tile import warm_up; warm_up()'

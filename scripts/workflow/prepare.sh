#!/usr/bin/env bash
# Prepare one resource for this run: check Python, create the run's work directory (keyed by
# PW_JOB_ID), create a venv there and install this checkout into it (with the mpich wheel, so
# mpiexec and srun --mpi=pmi2 work without a system MPI, and with numba, whose kernel is ~10x
# faster than numpy's), then warm the kernel up once so the site job's ranks do not compile it.
#
# usage: prepare.sh SITE [PYTHON]     run from the checked-out repository
#   SITE    onprem, cloud, or an extra cluster's site (extra1, extra2, ...: render-extra.sh)
#   PYTHON  interpreter to build the venv from (default python3; must be >= 3.9)
#
# Outputs (to $OUTPUTS): workdir, and
#   onprem: port (the dashboard's), run_id, sites and split (the run's sites: cloud,onprem and
#           one per extra cluster, from $EXTRA_CLUSTERS; the split: $SPLIT, where auto means
#           dynamic for more than two sites), view_flags (the image flags of the view input:
#           $VIEW_LOCATION, $VIEW_CENTER_RE, $VIEW_CENTER_IM, $VIEW_WIDTH, $VIEW_MAX_ITER, and
#           $MAX_ITER; mpi_render/launch/viewflags.py); it also writes the dashboard token (0600)
#   others: tunnel_port (the reverse tunnel's end on this login node), relay_port
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd -P)
. "$here/common.sh"

site=${1:-}
base_python=${2:-python3}
[[ $site =~ ^(onprem|cloud|extra[1-9][0-9]*)$ ]] \
  || die "SITE must be onprem, cloud or extraN, got '$site' (e.g. prepare.sh onprem python3)"
: "${OUTPUTS:?OUTPUTS is not set (run this from the workflow)}"
src=$(cd "$here/../.." && pwd -P)

command -v "$base_python" >/dev/null \
  || die "no '$base_python' on $(hostname); install Python >= 3.9 or set the python input" \
         "(e.g. /usr/bin/python3.11)"
if ! "$base_python" -c 'import sys; sys.exit(sys.version_info < (3, 9))'; then
  die "mpi-render needs Python >= 3.9; '$base_python' on $(hostname) is" \
      "$("$base_python" -V 2>&1). Set the workflow's python input to a newer one" \
      "(e.g. python3.11, or a module's python)."
fi
"$base_python" -c 'import venv, ensurepip' 2>/dev/null \
  || die "'$base_python' cannot create venvs (Debian: apt-get install python3-venv)"

work=$(work_dir "$site")
mkdir -p "$work"
ln -sfn "$src" "$work/src"
say "work directory $work, source $src, $("$base_python" -V 2>&1)"
# A venv, not pip --user: PEP 668 systems refuse user installs.
"$base_python" -m venv "$work/venv"
pip_install() { "$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@"; }
# numba 0.68 needs Python >= 3.10 and a wheel for this platform; without it the numpy kernel runs.
if "$base_python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
    && pip_install "$src[mpich,numba]"; then
  :
else
  say "warning: no numba for $("$base_python" -V 2>&1) here; the numpy kernel renders," \
      "about 10x slower (numba needs Python >= 3.10)"
  pip_install "$src[mpich]"
fi
use_work "$work"
"$python" -c 'import mpi_render, dashboard, mpi4py' || die "the install in $work/venv is broken"
# numba's cache (in the venv) and the native kernel library (~/.cache/mpi-render, per CPU type):
# compiled here once instead of by every rank of the site job (compute nodes with another CPU
# type build their own library on their first job).
backend=$("$python" -c 'from mpi_render.tile import warm_up; print(warm_up())') \
  || die "the kernel does not run in $work/venv"
say "kernel backend: $backend"

echo "workdir=$work" >> "$OUTPUTS"
if [ "$site" = onprem ]; then
  umask 077
  "$python" -c 'import secrets; print(secrets.token_hex(24))' > "$work/token"
  chmod 600 "$work/token"
  echo "port=$(free_ports 1)" >> "$OUTPUTS"
  echo "run_id=pw-${PW_JOB_ID//[^A-Za-z0-9_.-]/_}" >> "$OUTPUTS"
  plan=$("$python" -m mpi_render.launch.clusters --split "${SPLIT:-auto}") \
    || die "the extra clusters input is not usable (see the error above)"
  read -r sites split <<< "$plan"
  echo "sites=$sites" >> "$OUTPUTS"
  echo "split=$split" >> "$OUTPUTS"
  say "sites $sites, split $split"
  view_flags=$("$python" -m mpi_render.launch.viewflags) \
    || die "the view input is not usable (see the error above)"
  echo "view_flags=$view_flags" >> "$OUTPUTS"
  say "view: $view_flags"
else
  read -r tunnel_port relay_port < <(free_ports 2)
  echo "tunnel_port=$tunnel_port" >> "$OUTPUTS"
  echo "relay_port=$relay_port" >> "$OUTPUTS"
fi
say "ready"

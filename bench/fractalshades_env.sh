#!/usr/bin/env bash
# Build the deep-zoom yardstick's own venv: fractalshades 1.2.1 (Python + numba, perturbation with
# BLA) in bench/.fractalshades-venv (git-ignored), or $FRACTALSHADES_VENV. It is a yardstick, not a
# dependency: nothing here touches the project's .venv or setup.py.
#
# fractalshades 1.2.1 ships only a source archive: its Cython extension (the MPFR reference-orbit
# loop) links Debian's libgmp / libmpfr / libmpc and includes gmpy2's C headers. gmpy2 is therefore
# built from source too, against the same Debian libraries: a gmpy2 wheel carries its own copies of
# GMP / MPFR / MPC, and the extension would then hand MPFR numbers between two different libraries.
# numpy stays below 2.2 (the issue's constraint for 1.2.1); every version is pinned so the
# yardstick does not drift between benchmark runs.
#
# Idempotent and fast the second time: the pip steps are skipped while the stamp file in the venv
# matches the hash of this script and `import fractalshades` works (~1 s).
#
# usage: bench/fractalshades_env.sh        prints the venv's python path on its last line
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${FRACTALSHADES_VENV:-$repo/bench/.fractalshades-venv}
python=${PYTHON:-python3}

# The versions this yardstick was measured with (docs/PERFORMANCE.md, "Deep zoom yardstick").
fs_version=1.2.1
build_pins=(numpy==2.1.3 Cython==3.1.4 setuptools==80.9.0 wheel==0.45.1)
gmpy2_pin=gmpy2==2.2.1
run_pins=(numba==0.61.2 llvmlite==0.44.0 mpmath==1.3.0 Pillow==11.3.0 pygments==2.19.2
          PyQt6==6.9.1 PyQt6-Qt6==6.9.2 PyQt6-sip==13.13.1)
apt_pkgs=(gcc libc6-dev libgmp-dev libmpfr-dev libmpc-dev)

log() { echo "fractalshades_env: $*" >&2; }

# Debian's python3 splits off ensurepip (python3-venv) and the C headers (python3-dev) that the
# two source builds need.
if [ ! -x "$venv/bin/python" ] && ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
  apt_pkgs+=(python3-venv)
fi
if ! "$python" -c 'import os, sys, sysconfig
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; then
  apt_pkgs+=(python3-dev)
fi

# not_installed, apt_root, apt_install
source "$repo/scripts/apt.sh"
missing=($(not_installed "${apt_pkgs[@]}"))
if [ ${#missing[@]} -gt 0 ]; then
  if ! apt_root; then
    log "missing Debian packages: ${missing[*]}; as root run: apt-get install -y ${missing[*]}"
    exit 1
  fi
  log "installing ${missing[*]}"
  apt_install "${missing[@]}"
  log "apt done after ${SECONDS} s"
fi

if [ ! -x "$venv/bin/python" ]; then
  log "creating $venv"
  "$python" -m venv "$venv"
fi

stamp=$venv/.fractalshades-install
want=$(sha256sum "$0" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || ! "$venv/bin/python" -c 'import fractalshades' \
     2>/dev/null; then
  pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check --root-user-action=ignore)
  log "pip: build tools ${build_pins[*]}"
  "${pip[@]}" "${build_pins[@]}"
  log "pip: $gmpy2_pin from source (against Debian's GMP / MPFR / MPC)"
  "${pip[@]}" --no-binary gmpy2 "$gmpy2_pin"
  log "pip: ${run_pins[*]}"
  "${pip[@]}" "${run_pins[@]}" "${build_pins[0]}"
  # No build isolation: the extension must compile against the numpy and gmpy2 installed above.
  log "pip: fractalshades==$fs_version from source"
  "${pip[@]}" --no-build-isolation --no-binary fractalshades "fractalshades==$fs_version" \
    "${build_pins[0]}" "$gmpy2_pin" "${run_pins[@]}"
  "$venv/bin/python" -c 'import fractalshades.mpmath_utils.FP_loop'
  echo "$want" > "$stamp"
  log "pip done after ${SECONDS} s"
fi
echo "$venv/bin/python"

# Debian package helpers, sourced (not run) by scripts/bootstrap.sh and bench/fractalshades_env.sh:
# which packages are missing, and installing them as root or through sudo.

# not_installed PKG...: prints the packages dpkg does not have installed, one a line.
not_installed() {
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$' \
      || echo "$pkg"
  done
}

# apt_root: sets the array `sudo` to the prefix that runs apt-get as root: () for root, (sudo)
# where sudo exists. Returns 1, `sudo` left empty, where neither can.
apt_root() {
  sudo=()
  if [ "$(id -u)" -eq 0 ]; then
    return 0
  fi
  command -v sudo >/dev/null || return 1
  sudo=(sudo)
}

# apt_install PKG...: `apt-get update`, then installs the packages quietly without their
# recommends, through "${sudo[@]}" (call apt_root first).
apt_install() {
  # Packages like munge and slurmd would start their daemons from the postinst script; the tests
  # start their own, so forbid service starts for the duration (the Docker idiom), unless the
  # machine already has a policy of its own.
  local policy=/usr/sbin/policy-rc.d
  if [ ! -e $policy ]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee $policy >/dev/null
    "${sudo[@]}" chmod 755 $policy
    trap "${sudo[*]} rm -f $policy" EXIT
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

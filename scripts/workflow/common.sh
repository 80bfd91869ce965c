# Sourced by the other scripts in this directory (bash only): messages, the per-run work
# directory, and pid records that let cleanup stop exactly this run's processes.
#
# Every process a run starts is recorded as "PID STARTTIME" in $work/pids/NAME (STARTTIME is
# field 22 of /proc/PID/stat), so cleanup never signals a later, unrelated process that happens
# to reuse the pid, and never touches another run's processes (no pkill by name).

die() {
  echo "${0##*/}: error: $*" >&2
  exit 2
}

say() {
  echo "${0##*/}: $*"
}

# work_dir SITE: this run's directory for SITE on this host, keyed by the platform's job id.
work_dir() {
  [ -n "${PW_JOB_ID:-}" ] || die "PW_JOB_ID is not set (run this from the workflow)"
  printf '%s/mpi-render-runs/%s/%s\n' "$HOME" "${PW_JOB_ID//[^A-Za-z0-9_.-]/_}" "$1"
}

# use_work DIR: check DIR is a prepared work directory and set $work, $python, $src.
use_work() {
  work=$1
  [ -x "$work/venv/bin/python" ] || die "$work is not a prepared work directory (no venv)"
  python=$work/venv/bin/python
  src=$work/src
}

start_time() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  set -- $stat
  echo "${20}"
}

# record_pid NAME PID
record_pid() {
  mkdir -p "$work/pids"
  echo "$2 $(start_time "$2")" > "$work/pids/$1"
}

# recorded_alive NAME: true while the recorded process still runs (same pid, same start).
recorded_alive() {
  local pid start
  [ -f "$work/pids/$1" ] || return 1
  read -r pid start < "$work/pids/$1"
  [ -n "$pid" ] && [ "$(start_time "$pid")" = "$start" ] \
    && ! grep -q '^[^)]*) Z' "/proc/$pid/stat" 2>/dev/null
}

# stop_recorded NAME [TIMEOUT_S]: SIGTERM the recorded process (and its process group when it
# leads one), SIGKILL after TIMEOUT_S (default 15), then forget it.
stop_recorded() {
  local pid start waited=0
  [ -f "$work/pids/$1" ] || return 0
  read -r pid start < "$work/pids/$1"
  if recorded_alive "$1"; then
    say "stopping $1 (pid $pid)"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    while recorded_alive "$1" && [ "$waited" -lt "$((${2:-15} * 10))" ]; do
      sleep 0.1
      waited=$((waited + 1))
    done
    if recorded_alive "$1"; then
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$work/pids/$1"
}

# job_kind FLAGS...: "serve" when the site job's FLAGS hold --serve, else "render". A serving
# job's records (pids/serve-SITE, relay-serve, slurm_job-serve) never share a name with the
# first render's, so neither step's cleanup can stop the other's processes.
job_kind() {
  case " $* " in
    *" --serve "*) echo serve ;;
    *) echo render ;;
  esac
}

# set_ssh_opts [PROXY_COMMAND]: the array ssh_opts for ssh to a cluster's login node. Cloud hosts
# are recreated with new host keys: do not pin them for these ephemeral connections.
set_ssh_opts() {
  ssh_opts=(-o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
            -o LogLevel=ERROR -o ConnectTimeout=30)
  if [ -n "${1:-}" ]; then
    ssh_opts+=(-o "ProxyCommand=$1")
  fi
}

# wait_http URL TIMEOUT_S: wait until GET URL answers 200.
wait_http() {
  "$python" - "$1" "$2" <<'PY'
import sys, time, urllib.request
url, deadline = sys.argv[1], time.monotonic() + float(sys.argv[2])
while True:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            if resp.status == 200:
                sys.exit(0)
    except OSError:
        pass
    if time.monotonic() > deadline:
        sys.exit(f"no answer from {url} within {sys.argv[2]} s")
    time.sleep(1)
PY
}

# free_ports N: N distinct TCP ports that were free on this host a moment ago (one line).
free_ports() {
  "${python:-python3}" - "$1" <<'PY'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for sock in socks:
    sock.bind(("", 0))  # all bound at once, so the ports are distinct
print(" ".join(str(sock.getsockname()[1]) for sock in socks))
PY
}

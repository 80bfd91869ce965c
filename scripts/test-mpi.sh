#!/usr/bin/env bash
# Run the MPI tests (pytest-mpi, marker `mpi`, tests/mpi) on RANKS ranks of the venv's mpiexec,
# then print each rank's report in rank order: live, Hydra interleaves the RANKS pytest reports
# line by line. Exit code: mpiexec's (non-zero when any rank failed; 124 when the wall-clock cap
# TIMEOUT_S hit, so a hung rank cannot hang CI).
# usage: scripts/test-mpi.sh VENV RANKS [TIMEOUT_S]      (e.g. scripts/test-mpi.sh .venv 4 900)
set -uo pipefail
venv=${1:?venv} ranks=${2:?ranks} timeout_s=${3:-900}
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
# The cache plugin is off because every rank would write .pytest_cache at once.
timeout -k 10 "$timeout_s" "$venv/bin/mpiexec" -n "$ranks" \
  -outfile-pattern "$logs/%r.out" -errfile-pattern "$logs/%r.err" \
  "$venv/bin/python" -m mpi4py -m pytest --with-mpi -m mpi -p no:cacheprovider tests/mpi
rc=$?
for ((rank = 0; rank < ranks; rank++)); do
  echo "---------- rank $rank of $ranks"
  cat "$logs/$rank.err" "$logs/$rank.out" 2>/dev/null
done
exit $rc

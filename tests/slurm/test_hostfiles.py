"""hostfiles/localhost is read by the mpiexec the project installs (the mpich wheel's Hydra)."""
import socket

import pytest
from support import REPO, VENV_BIN, mpiexec, run

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

# One write per rank: unbuffered print() writes its pieces separately and ranks interleave them.
PROBE = ("import sys; from mpi4py import MPI; w = MPI.COMM_WORLD; "
         "sys.stdout.write(f'{w.rank} {w.size} {MPI.Get_processor_name()}\\n')")


@pytest.mark.parametrize("ranks", [3, 9])  # 9 > the file's 8 slots: Hydra wraps around
def test_localhost_hostfile_starts_every_rank_on_this_machine(ranks):
    proc = run([mpiexec(), "-f", str(REPO / "hostfiles" / "localhost"), "-n", str(ranks),
                str(VENV_BIN / "python"), "-c", PROBE], timeout=90)
    host = socket.gethostname()
    assert sorted(proc.stdout.split("\n")[:-1], key=lambda line: int(line.split()[0])) == [
        f"{rank} {ranks} {host}" for rank in range(ranks)], proc.stdout

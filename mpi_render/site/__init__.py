"""One site's MPI job: the ranks' roles (``driver``), rank 0's sinks (``sinks``: the ``--out``
directory, the dashboard ``poster`` with its ``spool`` and HTTP ``client``) and the progress line.
"""

"""Launching and watching runs from outside MPI: the local ``demo``, the child-process helpers it
and the benchmarks share (``processes``), the cluster ``relay`` and the run ``report``.
"""

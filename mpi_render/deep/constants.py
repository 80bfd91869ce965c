"""The numbers every perturbation backend shares (compiled into the numba kernels as constants).

Why each value: :mod:`.loop` (the algorithm) and docs/PERFORMANCE.md ("Deep views").
"""
WIDE_LIMIT = 2.0**-400  # a wide view's z is a plain double while |z|_1 >= this ...
WIDE_LIMIT_EXP = -400  # ... and a wide complex while its normalised exponent is <= this
TINY_Z = 2.0**-397  # |Z_m|_1 below this: a wide-mode rebase is possible (else it is not)
INTERIOR_LOG2 = -24  # |df_n/df_1|_1 below 2**-24: the pixel is interior
DER_HIGH = 2.0**64  # the derivative is renormalised when |d|_1 leaves [DER_LOW, DER_HIGH]
DER_LOW = 2.0**-64

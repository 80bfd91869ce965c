"""Placeholder: the deep kernels' prebuilt library (filled in below)."""


def load():
    return None

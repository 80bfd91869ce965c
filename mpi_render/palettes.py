"""Palettes: escape counts -> 8-bit palette indices, and the four named 256-colour palettes.

(Skeleton: the colour tables and the mapping are filled in by the kernel/palette work.)
"""
PALETTE_NAMES = ("electric", "fire", "ocean", "cosmic")


def check_palette_name(name: str) -> str:
    """Return the canonical (lower-case) palette name.

    Raises:
        ValueError: unknown name; the message lists the valid ones.
    """
    canonical = str(name).strip().lower()
    if canonical not in PALETTE_NAMES:
        raise ValueError(f"unknown palette {name!r}; valid palettes: {', '.join(PALETTE_NAMES)}")
    return canonical

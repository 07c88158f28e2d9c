"""Label trees shared by several test modules."""

# A miniature of OrchideaSOL: family / instrument / mute / technique.
ORCHIDEA_MINI = [
    "Brass/Horn/open/ordinario",
    "Brass/Horn/open/flatterzunge",
    "Brass/Horn/straight/ordinario",
    "Brass/Trumpet/open/ordinario",
    "Brass/Trumpet/harmon/ordinario",
    "Strings/Violin/open/pizzicato",
    "Strings/Violin/open/ordinario",
    "Strings/Violin/sordina/ordinario",
]


# Plain-string references for the metric tests, independent of Taxonomy.
def names(path):
    return path.split("/") if path else []


def prefix(path, level):
    parts = names(path)
    return "/".join(parts[:level]) if len(parts) >= level else None


def common(a, b):
    """Depth of the lowest common ancestor of two label paths."""
    n = 0
    for x, z in zip(names(a), names(b), strict=False):
        if x != z:
            break
        n += 1
    return n

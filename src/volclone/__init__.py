"""volclone: block storage with crash-consistent multi-volume clones."""

__version__ = "0.1.0"

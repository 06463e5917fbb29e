"""What a tenant may read of an error: no server paths, no stack traces.

The full error goes to the server log where it happens; get_progress and the leftover
records carry only the cleaned text::

    >>> tenant_message("qemu-img: Could not open '/var/lib/volclone/pool/3f.qcow2': Permission denied")
    "qemu-img: Could not open '3f.qcow2': Permission denied"
"""

from __future__ import annotations

import re

from volclone.errors import VolcloneError

#: The longest message get_progress returns (the server log has all of it).
MAX_LENGTH = 500
_TRACEBACK = re.compile(r"Traceback \(most recent call last\):.*", re.DOTALL)
_FRAME = re.compile(r'^\s*File "[^"]*", line \d+.*$', re.MULTILINE)
#: An absolute path: a ``/`` that starts a word (not part of a URL, a ratio or a relative path).
_PATH = re.compile(r"(?<![\w.:/~\\-])/[^\s'\"`,;()\[\]{}<>|]+")


def _base(match: re.Match[str]) -> str:
    parts = [p for p in match.group(0).split("/") if p]
    return parts[-1] if parts else "/"


def tenant_message(text: str) -> str:
    """``text`` with every absolute path cut to its last component, tracebacks dropped,
    whitespace folded and the length capped."""
    text = _FRAME.sub("", _TRACEBACK.sub("", text))
    text = _PATH.sub(_base, text)
    text = " ".join(text.split())
    if len(text) > MAX_LENGTH:
        text = text[:MAX_LENGTH - 3].rstrip() + "..."
    return text or "an internal error (details are in the server log)"


def public_error(exc: BaseException) -> str:
    """What a tenant may read of ``exc``: volclone's own errors and OS errors, cleaned; of
    anything else (SQL, a bug) only its kind."""
    if isinstance(exc, VolcloneError | OSError):
        return tenant_message(str(exc))
    return f"an internal error ({type(exc).__name__}; details are in the server log)"

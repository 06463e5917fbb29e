"""Reads a subunit v2 stream (``tempest run --subunit``) and prints one JSON object per test:
``{"id", "status", "reason"}`` (status: success, fail, skip, ...; reason: a skip's reason or the
last line of a failure's traceback). Runs in ``.venv-tempest`` (python-subunit and testtools are
Tempest's); ``harness.py`` calls it::

    .venv-tempest/bin/python tests/tempest/subunit_results.py < results.subunit
"""

import json
import re
import sys

import subunit
import testtools

#: The line a Python traceback names its exception on (``tempest.lib.exceptions.NotFound: ...``).
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*: ")
_LONGEST_REASON = 500


def _reason(details):
    """A skip's reason, or a failure's last exception with its message on one line."""
    if "reason" in details:
        return details["reason"].as_text().strip()
    if "traceback" not in details:
        return ""
    lines = details["traceback"].as_text().strip().splitlines()
    starts = [i for i, line in enumerate(lines) if _EXCEPTION_LINE.match(line)]
    text = " ".join(" ".join(lines[starts[-1] if starts else -1:]).split())
    return text[:_LONGEST_REASON]


def main():
    rows = []

    def on_test(test):
        if test["status"] in ("exists", "inprogress", None):
            return
        rows.append({"id": test["id"], "status": test["status"], "reason": _reason(test["details"])})

    stream = subunit.ByteStreamToStreamResult(sys.stdin.buffer, non_subunit_name="stdout")
    result = testtools.StreamToDict(on_test)
    result.startTestRun()
    try:
        stream.run(result)
    finally:
        result.stopTestRun()
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    main()

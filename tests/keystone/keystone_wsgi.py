"""Keystone's WSGI application, for gunicorn in ``.venv-keystone`` (not imported by the tests).

Keystone's oslo.config parses ``sys.argv`` when the app loads, and gunicorn's own arguments make
it fail ("unrecognized arguments"), so they are dropped first. The config file comes from
``OS_KEYSTONE_CONFIG_FILES``::

    OS_KEYSTONE_CONFIG_FILES=keystone.conf gunicorn --pythonpath tests/keystone keystone_wsgi:application
"""

import sys

sys.argv = sys.argv[:1]

from keystone.wsgi.api import application  # noqa: E402

__all__ = ["application"]

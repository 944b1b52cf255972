"""WSGI entry point of workloadmgr-api for uwsgi or mod_wsgi (``t4o.api.wsgi:application``).

It reads the configuration as ``workloadmgr-api`` does: the files named by $OS_T4O_CONFIG_FILE
(comma-separated), else the default ones (/etc/t4o/t4o.conf, ...).
"""

from __future__ import annotations

from t4o.api.app import create_app
from t4o.common import rest

application = rest.wsgi_application("workloadmgr-api", create_app)

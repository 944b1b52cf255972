"""WSGI entry point of datamover-api for uwsgi or mod_wsgi (``t4o.datamover.api.wsgi:application``).

It reads the configuration as ``datamover-api`` does: the files named by $OS_T4O_CONFIG_FILE
(comma-separated), else the default ones (/etc/t4o/t4o.conf, ...).
"""

from __future__ import annotations

from t4o.common import rest
from t4o.common.config import CONF
from t4o.datamover import config as dm_config
from t4o.datamover.api.app import create_app

dm_config.register_opts(CONF)
application = rest.wsgi_application("datamover-api", create_app)

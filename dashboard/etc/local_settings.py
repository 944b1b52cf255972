# Horizon settings for a dashboard with the T4O plugin; dashboard/install copies this file to
# openstack_dashboard/local/local_settings.py. Environment variables adapt it without editing:
#   T4O_KEYSTONE_URL     Keystone v3 URL Horizon logs users in with (default http://127.0.0.1:5000/v3)
#   T4O_DASHBOARD_STATE  folder for the secret key and collected static files
import os

from horizon.utils import secret_key

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "::1"]

_STATE = os.environ.get("T4O_DASHBOARD_STATE") or os.path.dirname(os.path.abspath(__file__))
os.makedirs(_STATE, exist_ok=True)
SECRET_KEY = secret_key.generate_or_read_from_file(os.path.join(_STATE, ".secret_key_store"))
STATIC_ROOT = os.path.join(_STATE, "static")
# Stylesheets are compiled on first request, so no offline "compress" step is needed.
COMPRESS_OFFLINE = False

OPENSTACK_KEYSTONE_URL = os.environ.get("T4O_KEYSTONE_URL", "http://127.0.0.1:5000/v3")
OPENSTACK_KEYSTONE_DEFAULT_ROLE = "member"
OPENSTACK_KEYSTONE_DEFAULT_DOMAIN = "Default"
OPENSTACK_ENDPOINT_TYPE = "publicURL"
TIME_ZONE = "UTC"

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "horizon": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "openstack_dashboard": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "t4o_dashboard": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.request": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}

"""Django settings of the plugin's unit tests: Horizon's test settings plus the plugin's enabled files."""

from openstack_dashboard import enabled as horizon_enabled
from openstack_dashboard.test.settings import *  # noqa: F403
from openstack_dashboard.utils import settings as settings_utils

from t4o_dashboard import enabled as t4o_enabled

INSTALLED_APPS = list(INSTALLED_APPS)  # noqa: F405
settings_utils.update_dashboards(
    [horizon_enabled, t4o_enabled],
    HORIZON_CONFIG,  # noqa: F405
    INSTALLED_APPS,
)
# update_dashboards prepends the apps of every enabled file again; Django refuses duplicates.
INSTALLED_APPS = list(dict.fromkeys(INSTALLED_APPS))

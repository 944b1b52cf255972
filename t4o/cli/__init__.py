"""Command lines of T4O: the ``openstack workload ...`` plugin and the standalone ``workloadmgr``."""

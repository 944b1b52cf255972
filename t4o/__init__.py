"""T4O: backup and disaster recovery of OpenStack tenant workloads."""

__version__ = "0.1.0"

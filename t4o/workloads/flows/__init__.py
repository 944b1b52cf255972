"""The snapshot and restore workflows of real VMs (plugged in through the ``t4o.workflows`` entry points).

See docs/snapshot-restore.md.
"""

"""Schedules, retention, workload policies, quotas and notifications."""

"""Visits: visit plans, scheduling, field records, overdue escalation and group activities (走访)."""

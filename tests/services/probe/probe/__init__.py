"""Probe: a test-only consumer of client events that records each one, and fails on request."""

"""Ledger: a test-only downstream consumer of donations and allocations."""

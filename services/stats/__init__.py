"""The stats service: county figures and annual reports; the provincial aggregator (same code)."""

"""Limits and kernel confinement for child processes, and the write guard."""

"""Benchmarks: each bench/<name>.py compares side by side in one run and prints a table of medians and ratios.

Run one with `.venv/bin/python -m bench.<name>`, or all in turn with `.venv/bin/python -m bench`.
"""

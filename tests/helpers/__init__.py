"""What the test suites and the benchmarks share: movie records, ports, processes, live servers.

Imported as `tests.helpers.<module>` (the repo root is on sys.path: pytest's `pythonpath`, and
`python -m bench.<name>` runs from the root), so no suite imports another suite's conftest.
"""

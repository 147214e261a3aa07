"""Load and throughput benchmarks (DESIGN.md, "Speed is part of the design"). Not tests.

Run them as modules from the project root: `.venv/bin/python -m bench.receiver` and
`.venv/bin/python -m bench.throughput`; see bench/README.md.
"""

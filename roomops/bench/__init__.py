"""RoomOps benchmarks (``scripts/bench``, ``python -m roomops.bench``): a script, not a test.

Each benchmark module has ``run(sizes) -> Section``: it measures our code and its baseline side by
side in the same run, on real sockets, ptys and processes, and returns a table for
``docs/BENCHMARKS.md``. Nothing here asserts on time.
"""

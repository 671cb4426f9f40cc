"""Benchmarks: ``python -m benchmarks [NAME ...] [--scale X]`` prints one table each.

Each ``bench_<name>.py`` module defines ``run(scale: float) -> list[dict]``: rows of
measurements (same keys in every row). Timings are medians of repeats where a module
can afford repeats; compare ratios within one run, the machine is noisy.
"""

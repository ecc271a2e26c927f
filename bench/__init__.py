"""Benchmarks: each module measures one thing and writes JSON to bench/results/."""

"""Benchmarks (`make bench`): each prints one JSON line per figure and all go to bench/results.json."""

"""Tasks (datasets, environments, scorers) and benchmarks; each reports what it measured."""

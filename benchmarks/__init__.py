"""Benchmarks of the running assistant: latency, load and training time, memory (``python -m benchmarks.run``)."""

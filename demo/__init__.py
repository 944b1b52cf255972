"""The demo (``scripts/demo``, ``python -m demo``) and the T4O services on devcloud as it starts them,
which the integration tests and the benchmarks start the same way. Not part of the t4o package."""

"""Benchmarks: ``python -m benchmarks <name>`` runs ``benchmarks/<name>.py``, prints and saves figures."""

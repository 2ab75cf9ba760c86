"""Out-of-stock detection: phantom inventory, safety-stock violations, zero-sales events, on-shelf availability."""

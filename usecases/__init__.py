"""The five use cases, one subpackage each. Use cases import the ``shared`` core, never each other."""

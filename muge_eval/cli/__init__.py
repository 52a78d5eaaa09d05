"""The ``muge-eval`` command line."""

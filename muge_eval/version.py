"""The version of muge-eval (recorded in every results file)."""

__version__ = "0.2.0.dev0"

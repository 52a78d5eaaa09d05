"""muge-eval: evaluation toolkit for the MUGE Chinese multimodal benchmark."""

__version__ = "0.1.0"

"""Encoding text and image sets with embedding adapters, shared by every task type that embeds."""

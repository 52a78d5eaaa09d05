"""Captioning model adapters: a local transformers model, an OpenAI-compatible chat
server, and the human (held-out reference) baseline."""

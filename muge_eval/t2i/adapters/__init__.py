"""Image generator adapters: ``generate(prompts, seeds) -> list[PIL.Image]``."""

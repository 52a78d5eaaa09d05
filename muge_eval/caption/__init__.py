"""The ``caption`` task: MUGE ECommerce-IC and AI Challenger captioning, their tokenizers,
metrics (BLEU, ROUGE-L, CIDEr-D, optional METEOR) and captioning model adapters."""

"""Zero-shot image classification: an ImageFolder with Chinese class names, prompt
templates ensembled per class (the Chinese-CLIP protocol), top-1/top-5 and mean per-class
recall."""

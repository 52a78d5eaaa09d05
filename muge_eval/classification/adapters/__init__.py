"""Zero-shot classification has no adapters of its own: it embeds class prompts and images
with the shared embedding protocol (``muge_eval.models.base.RetrievalAdapter``), so every
built-in embedding adapter (``random``, ``features``, ``hf-chinese-clip``, ``cn-clip``,
``open-clip``, in ``muge_eval.retrieval.adapters``) and any third-party one works on it
unchanged.

What the adapters receive: texts are the filled prompts with ids
``class_index * n_templates + template_index``; images are the split's files with ids
``0 .. n-1``, their position in ImageFolder order. Those are the ids a ``features``
adapter looks up (``text_id`` / ``image_id`` in its feature files).
"""

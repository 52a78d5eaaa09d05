"""Built-in embedding adapters: ``random``, ``features``, ``hf-chinese-clip``, ``cn-clip``,
``open-clip``. They implement the shared embedding protocol
(``muge_eval.models.base.RetrievalAdapter``), so every task type that embeds (retrieval,
zero-shot classification, the judges) takes them unchanged."""

"""Task types: retrieval, caption, t2i. Each loads gold data, reads submissions, scores
them, and evaluates a model adapter end to end."""

"""Galleries: what a model actually did on a few items of a task (its retrieved images,
its captions, its generated pictures), from the per-sample records of its run."""

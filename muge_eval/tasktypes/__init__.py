"""The task-type seam: the base class every task type implements, its options, how a task
is built from a card, and what readers of results files ask a type. The types themselves
are registered in muge_eval.plugins (built-ins) or through entry points."""

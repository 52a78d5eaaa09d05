"""`python -m muge_eval` runs the CLI (also what `torchrun -m muge_eval` starts)."""

from muge_eval.cli.main import main

if __name__ == "__main__":
    main()

"""`python -m cl2cm` (and so `torchrun -m cl2cm ...`)."""

from cl2cm.cli import main

if __name__ == "__main__":
    main()

"""`python -m cl2cm` (and so `torchrun -m cl2cm ...`)."""

import sys

from cl2cm import interrupts

interrupts.install()  # before the heavy imports: a Ctrl-C swallowed by a __del__ on the way is still seen
try:
    from cl2cm.cli import main
except KeyboardInterrupt as exc:  # Ctrl-C/SIGTERM while the command line is still importing (torch takes seconds)
    terminated = isinstance(exc, interrupts.Terminated)
    print("cl2cm: terminated (SIGTERM)" if terminated else "cl2cm: interrupted", file=sys.stderr)
    sys.exit(143 if terminated else 130)

if __name__ == "__main__":
    main()

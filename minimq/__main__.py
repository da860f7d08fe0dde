"""``python -m minimq`` and the ``minimq`` console script: the command line (see minimq.cli and docs/cli.md)."""

import signal

from .cli import main


def console() -> int:
    """The console script: :func:`minimq.cli.main`, ending quietly when its output pipe closes
    (``minimq demo | head``), as shell tools do."""
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    return main()


if __name__ == "__main__":  # guarded: importing the module (as the docstring test does) runs nothing
    raise SystemExit(console())

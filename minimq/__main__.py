"""``python -m minimq``: the command line (see minimq.cli and docs/cli.md)."""

from .cli import main

if __name__ == "__main__":  # guarded: importing the module (as the docstring test does) runs nothing
    raise SystemExit(main())

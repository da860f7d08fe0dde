"""An order-processing application on ``minimq.app``: see ``app.py``, run it with ``python -m examples.app.orders``."""

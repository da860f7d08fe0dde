"""Facades that present minimq through other libraries' client APIs.

``minimq.compat.pika`` is a drop-in for pika's ``BlockingConnection``.  Facades depend on the core;
the core never imports them.
"""

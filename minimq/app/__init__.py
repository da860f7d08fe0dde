"""The application API (in the manner of Spring AMQP): a template, declarative listeners, converters.

Work in progress: see docs/design/app.md for the shape and the transport interface.
"""

"""The application API (in the manner of Spring AMQP): declarative listeners, a template, converters.

``App`` runs ``@app.listener`` handlers on worker threads or asyncio tasks, converting each message
to the handler's declared payload type, answering requests that carry ``reply_to`` and settling
failures with an error policy (``Reject``, ``Requeue``, ``Retry``).  See docs/app.md for a guide and
docs/design/app.md for the plan.
"""

from .errors import AppError, DeclarationError, MessageConversionError, ReplyTimeout
from .application import App
from .declarations import Binding, Exchange, Queue
from .listeners import AsyncListenerContainer, Listener, ListenerContainer
from .messages import Inbound, ReturnedMessage
from .payloads import Headers
from .policies import ErrorPolicy, Reject, Requeue, Retry, Settlement
from .template import AsyncTemplate, Template

__all__ = [
    "App", "Queue", "Exchange", "Binding", "Inbound", "ReturnedMessage", "Headers",
    "Reject", "Requeue", "Retry", "ErrorPolicy", "Settlement",
    "Listener", "ListenerContainer", "AsyncListenerContainer",
    "Template", "AsyncTemplate",
    "AppError", "DeclarationError", "MessageConversionError", "ReplyTimeout",
]

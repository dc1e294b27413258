"""The dashboard: an ASGI app over the run history, read through ``HistoryReader``.

``create_app`` builds it; the app layer (``tidegate.app.dashboard``) adapts the state store to
``HistoryReader``, since concern packages do not import each other.
"""

from tidegate.web.app import SECURITY_HEADERS, TOKEN_COOKIE, create_app
from tidegate.web.models import HistoryReader

__all__ = ["SECURITY_HEADERS", "TOKEN_COOKIE", "HistoryReader", "create_app"]

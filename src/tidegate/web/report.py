"""A run page as one self-contained HTML file, for an e-mail link or an archive.

The file is the dashboard's run page drawn by the same templates (``run.html`` inside
``base.html`` in its standalone form), so it cannot drift from what the dashboard shows. What
would reach outside the file is left out: the stylesheet is inlined, the icon is a ``data:``
URI, there is no script, and links to other dashboard pages become plain text (there is no
dashboard beside a file). A Content-Security-Policy meta tag allows nothing but that inlined
stylesheet (by its hash) and ``data:`` images, so even a future template that referenced
something outside would be refused by the browser rather than phone home.

Templates autoescape, so every ``<`` in the drawn page is markup written by a template, never
a value from the run; that is what makes rewriting the tags below with patterns sound.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files
from typing import TYPE_CHECKING

from markupsafe import Markup

from tidegate.errors import InternalError
from tidegate.web.templating import environment, run_context

if TYPE_CHECKING:
    from tidegate.web.models import RunView

__all__ = ["Standalone", "run_report"]

_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script\s*>", re.DOTALL | re.IGNORECASE)
_ANCHOR_OPEN = re.compile(r"<a(?:\s[^>]*)?>", re.IGNORECASE)
_ANCHOR_CLOSE = re.compile(r"</a\s*>", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Standalone:
    """What ``base.html`` needs to draw a page that stands alone."""

    css: Markup
    csp: str
    icon: str
    source: str


def run_report(run: RunView, *, source: str, now: datetime | None = None) -> str:
    """The run page of ``run`` as one HTML document referring to nothing outside itself.

    ``source`` says where the run was read from (a state store URL with its password
    hidden); ``now`` is the time the report says it was written (default: now).
    """
    template = environment().get_template("run.html")
    page = template.render(
        now=now or datetime.now(UTC),
        refresh_seconds=0,
        health_page=False,
        standalone=_standalone(source),
        **run_context(run),
    )
    page = _SCRIPT.sub("", page)
    page = _ANCHOR_OPEN.sub('<span class="link-off">', page)
    return _ANCHOR_CLOSE.sub("</span>", page)


def _standalone(source: str) -> Standalone:
    static = files("tidegate.web") / "static"
    css = static.joinpath("style.css").read_text(encoding="utf-8")
    if "</" in css:
        # it would end the <style> element early; the stylesheet is ours, so a bug here
        raise InternalError("style.css holds '</', which cannot be inlined in a <style> element")
    digest = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")
    icon = base64.b64encode(static.joinpath("favicon.svg").read_bytes()).decode("ascii")
    return Standalone(
        css=Markup(css),  # noqa: S704 - the package's own stylesheet, checked above
        csp=(
            f"default-src 'none'; style-src 'sha256-{digest}'; img-src data:; "
            "base-uri 'none'; form-action 'none'"
        ),
        icon=f"data:image/svg+xml;base64,{icon}",
        source=source,
    )

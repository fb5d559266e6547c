"""The web dashboard: one static page (HTML, JS, inline SVG charts; nothing fetched from elsewhere).

It reads GET /audit and GET /audit/counters with the dashboards' key, given in the URL fragment
(``#key=...``, never sent to a server) or typed into the page. Deployed as a static page, it
takes the API's URL as ``#api=https://.../v1``; the local stack serves it at ``/dashboard/``.
"""

from __future__ import annotations

import html
from functools import cache
from pathlib import Path

PAGE = Path(__file__).with_name("index.html")


@cache
def _template() -> str:
    return PAGE.read_text(encoding="utf-8")


def page(api_base: str) -> bytes:
    """The page with its API base filled in (the stage path when served by the API's origin)."""
    return (
        _template()
        .replace(
            '<meta name="api-base" content="">',
            f'<meta name="api-base" content="{html.escape(api_base, quote=True)}">',
        )
        .encode()
    )

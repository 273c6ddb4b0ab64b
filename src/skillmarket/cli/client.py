"""The HTTP client the CLI's client commands use: SKILLMARKET_URL + SKILLMARKET_API_KEY."""

from __future__ import annotations

from typing import Any

import httpx

from skillmarket import __version__
from skillmarket.cli.output import fail
from skillmarket.config import ClientSettings


class ApiClient:
    """A thin wrapper that turns API errors into one-line CLI failures."""

    def __init__(self, settings: ClientSettings | None = None):
        self.settings = settings or ClientSettings()
        if not self.settings.api_key:
            fail(
                "set SKILLMARKET_API_KEY to an operator API key "
                "(skillmarket operator create NAME prints one)",
                "API_KEY_MISSING",
            )
        self.http = httpx.Client(
            base_url=self.settings.url.rstrip("/"),
            headers={
                "Authorization": f"Bearer {self.settings.api_key}",
                "User-Agent": f"skillmarket-cli/{__version__}",
            },
            timeout=httpx.Timeout(30.0, connect=5.0),
        )

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request and return the decoded JSON body, or fail with the API's reason."""
        response = self._send(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            return None

    def request_text(self, method: str, path: str, **kwargs: Any) -> str:
        """Send a request and return the body as text (CSV and the like), or fail."""
        return self._send(method, path, **kwargs).text

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            fail(
                f"cannot reach the marketplace at {self.settings.url} ({exc.__class__.__name__})"
                "; is `skillmarket serve` running, and is SKILLMARKET_URL right?",
                "UNREACHABLE",
            )
        if response.is_error:
            try:
                body = response.json()
            except ValueError:
                body = None
            error = (body or {}).get("error") if isinstance(body, dict) else None
            if error:
                fail(error.get("message", response.reason_phrase), error.get("code"))
            fail(f"HTTP {response.status_code} {response.reason_phrase}", "HTTP_ERROR")
        return response

"""The MCP server: the seed's ``stack_*`` tools over stdio and Streamable HTTP (``/mcp``)."""

from skillmarket.mcp.gateway import RestGateway
from skillmarket.mcp.server import build_server

__all__ = ["RestGateway", "build_server"]

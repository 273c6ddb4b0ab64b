"""The MCP server object: name, instructions for the agent, and the tools."""

from __future__ import annotations

from mcp.server.fastmcp import FastMCP

from skillmarket import __version__
from skillmarket.mcp.tools import GatewayFor, register_tools

INSTRUCTIONS = """\
skillmarket is a marketplace of AI-agent skills: typed capabilities (input and output JSON
Schemas) that run sandboxed and are paid per invocation from your wallet.

To buy: stack_search_skills, then stack_get_skill for the schemas and price; pick a passport
from stack_list_passports and stack_check_trust_level; stack_invoke_skill with input valid
against the input_schema; if the status is running or pending, poll stack_check_invocation;
when completed, stack_rate_skill. Nothing you cannot do over REST is possible here, and a
refused call answers the API's error object with a stable code (e.g. TRUST_LEVEL_INSUFFICIENT
names the missing claim; INSUFFICIENT_FUNDS means the wallet is short).

To sell open-mode work: stack_list_pending_invocations, stack_claim_invocation, then
stack_complete_invocation with output valid against the output_schema.

When nothing fits: stack_post_skill_request, and stack_find_matching_skills /
stack_suggest_skill_composition for a posted request (advice only; nothing runs by itself).
"""


def build_server(gateway_for: GatewayFor, *, host: str = "127.0.0.1") -> FastMCP:
    """A FastMCP server with every skillmarket tool; ``gateway_for`` reaches the REST API.

    ``host`` is where the HTTP transport is served: on a loopback address the SDK's DNS
    rebinding protection (Host and Origin must be local) is on.
    """
    server = FastMCP("skillmarket", instructions=INSTRUCTIONS, host=host, log_level="WARNING")
    server._mcp_server.version = __version__  # noqa: SLF001  (FastMCP has no setter for it)
    register_tools(server, gateway_for)
    return server

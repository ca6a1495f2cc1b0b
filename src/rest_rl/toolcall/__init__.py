"""Tool-call formats: parse untrusted model output into :class:`ToolCall` records, and render them.

Three formats: ToolRL (``<think>``/``<tool_call>`` JSON lines/``<response>``), Qwen3/Hermes
(``<tool_call>`` blocks with ``"arguments"``) and BFCL Python-call strings. Parsers never raise
on model output and never execute it; what they could not understand is in ``ParsedOutput.problems``.
"""

from .types import ParsedOutput, ToolCall
from .toolrl import parse_toolrl, render_toolrl
from .hermes import parse_hermes, render_hermes
from .pycall import parse_python_calls, render_python_calls
from .prompts import apply_tools_chat_template, to_json_schema, toolrl_system_prompt

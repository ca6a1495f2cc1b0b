"""The end-to-end demos on the embedded default.

* ``rest-rl demo`` (``make demo``): one tool call per prompt -- the pipeline (:mod:`~rest_rl.demo.pipeline`) and its
  report with plots (:mod:`~rest_rl.demo.report`);
* ``rest-rl demo agent`` (``make demo-agent``): multi-turn tool use in a stateful tool world, RL in TRL's tool loop
  (:mod:`~rest_rl.demo.agent`)."""

from rest_rl.demo.agent import (
    AGENT_ARMS,
    AGENT_SPLITS,
    DEMO_AGENT_RL,
    DEMO_AGENT_SFT,
    DemoAgentConfig,
    agent_chat_template,
    agent_sft_rows,
    agent_splits,
    conversation_corpus,
    run_demo_agent,
    write_agent_report,
)
from rest_rl.demo.pipeline import (
    DEMO_RL,
    DEMO_SFT,
    DemoConfig,
    HeldOutScores,
    data_section,
    exact_call_match,
    run_demo,
    score_held_out,
)

__all__ = [
    "AGENT_ARMS",
    "AGENT_SPLITS",
    "DEMO_AGENT_RL",
    "DEMO_AGENT_SFT",
    "DEMO_RL",
    "DEMO_SFT",
    "DemoAgentConfig",
    "DemoConfig",
    "HeldOutScores",
    "agent_chat_template",
    "agent_sft_rows",
    "agent_splits",
    "conversation_corpus",
    "data_section",
    "exact_call_match",
    "run_demo",
    "run_demo_agent",
    "score_held_out",
    "write_agent_report",
]

"""The end-to-end demo on the embedded default (``rest-rl demo``, ``make demo``): the pipeline
(:mod:`~rest_rl.demo.pipeline`) and its report with plots (:mod:`~rest_rl.demo.report`)."""

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

__all__ = ["DEMO_RL", "DEMO_SFT", "DemoConfig", "HeldOutScores", "data_section", "exact_call_match", "run_demo", "score_held_out"]

"""10,000 adversarial strings through every parser, reward variant and the region labeller.

The 100,000-string run lives in ``benchmarks/fuzz_untrusted.py``.
"""

import random

from rest_rl.testing import check_untrusted_text, random_model_output


def test_ten_thousand_hostile_strings_never_raise_and_stay_in_range():
    rng = random.Random(1234)
    tokens = 0
    for _ in range(10_000):
        text = random_model_output(rng)
        tokens += check_untrusted_text(text, rng).n_tokens
    assert tokens > 100_000  # the strings were not trivially short


def test_generator_reaches_the_interesting_shapes():
    rng = random.Random(7)
    texts = [random_model_output(rng) for _ in range(500)]
    assert any("<tool_call>" in t and "</tool_call>" not in t for t in texts)  # unclosed blocks
    assert any('"name"' in t and "<tool_call>" in t for t in texts)  # calls inside blocks
    assert any(t == "" for t in texts)  # empty completions

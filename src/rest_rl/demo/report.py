"""The demo's ``report.md`` and its PNG plots (matplotlib, Agg backend: no display needed).

* ``reward.png`` — mean reward of the sampled completions per logged step, and the rollouts' exact-match rate
  (the reward's ranges widen with the dynamic schedule, so the exact-match rate is the comparable curve);
* ``region_entropy.png`` — mean entropy of each region's tokens under the current policy per logged step;
* ``region_weight.png`` — mean ResT token weight of each region per logged step (after normalisation).

Inputs are the ``metrics.jsonl`` records written by :class:`~rest_rl.integrations.trl.callbacks.MetricsJsonlCallback`
(TRL's log keys: ``reward``, ``rewards/<name>/exact_match``, ``rest/entropy/<REGION>``,
``rest/weight/<REGION>``, ``rest/share/<REGION>``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rest_rl.core.regions import Region

__all__ = ["plot_regions", "plot_reward", "series", "write_report"]

_ARM_LABELS = {
    "sft": "SFT start",
    "rl": "SFT start + ResT RL",
    "control": "SFT start + more SFT (control)",
}


def series(records: Sequence[Mapping[str, Any]], key: str) -> tuple[list[int], list[float]]:
    """``(steps, values)`` of the records that hold a finite number under ``key``."""
    steps, values = [], []
    for r in records:
        v = r.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and isinstance(r.get("step"), int):
            steps.append(r["step"])
            values.append(float(v))
    return steps, values


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _exact_key(records: Sequence[Mapping[str, Any]]) -> str | None:
    for r in records:
        for k in r:
            if k.startswith("rewards/") and k.endswith("/exact_match"):
                return k
    return None


def plot_reward(records: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> Path | None:
    """Reward (left axis) and rollout exact-match rate (right axis) over steps; ``None`` if nothing logged."""
    steps, reward = series(records, "reward")
    if not steps:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, reward, color="tab:blue", label="mean reward")
    ax.set_xlabel("RL step")
    ax.set_ylabel("mean reward (dynamic schedule)", color="tab:blue")
    key = _exact_key(records)
    if key is not None:
        s2, exact = series(records, key)
        ax2 = ax.twinx()
        ax2.plot(s2, exact, color="tab:orange", label="rollout exact match")
        ax2.set_ylabel("exact-match rate of sampled completions", color="tab:orange")
        ax2.set_ylim(0, 1)
    ax.set_title("ResT RL: reward over training")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_regions(
    records: Sequence[Mapping[str, Any]], kind: str, path: str | os.PathLike[str], *, title: str, ylabel: str
) -> Path | None:
    """One line per region of ``rest/<kind>/<REGION>`` over steps; ``None`` if nothing logged."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    drawn = 0
    for region in Region:
        steps, values = series(records, f"rest/{kind}/{region.name}")
        if steps:
            ax.plot(steps, values, label=region.name)
            drawn += 1
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("RL step")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def _ci_text(ci: Any) -> str:
    """`` [low, high]`` of an exact-call interval from the summary (empty when there is none)."""
    if not isinstance(ci, (list, tuple)) or len(ci) != 2:
        return ""
    return f" [{float(ci[0]):.3f}, {float(ci[1]):.3f}]"


def _fmt(x: float, digits: int = 2) -> str:
    return "n/a" if not isinstance(x, (int, float)) or not math.isfinite(x) else f"{x:.{digits}f}"


def write_report(
    out_dir: str | os.PathLike[str], summary: Mapping[str, Any], *, rl_metrics: str | os.PathLike[str]
) -> Path:
    """Write ``report.md`` and the plots into ``out_dir``; returns the report's path.

    ``summary`` is the demo's summary (``held_out`` per arm, ``timings_s``, ``steps``, ...); ``rl_metrics``
    the RL stage's ``metrics.jsonl``.
    """
    from rest_rl.integrations.trl.callbacks import read_metrics

    out = Path(out_dir)
    records = read_metrics(rl_metrics)
    plots = {
        "reward": plot_reward(records, out / "reward.png"),
        "entropy": plot_regions(
            records, "entropy", out / "region_entropy.png", title="Mean token entropy per region", ylabel="entropy (nats)"
        ),
        "weight": plot_regions(
            records, "weight", out / "region_weight.png", title="Mean ResT token weight per region", ylabel="weight"
        ),
    }
    splits = list(summary["held_out"])
    headline = summary.get("headline_split", splits[0])
    labels = summary.get("split_labels", {})
    steps = summary.get("steps", {})
    timings = summary.get("timings_s", {})
    world = summary.get("world", {})
    detail = {
        "sft": f"{summary['sft_labels']} labels, {steps.get('sft', '?')} steps ({_fmt(timings.get('sft', float('nan')), 0)} s)",
        "rl": f"+ {steps.get('rl', '?')} RL steps on {summary.get('rl_prompts', '?')} fresh prompts "
        f"({_fmt(timings.get('rl', float('nan')), 0)} s)",
        "control": f"+ {steps.get('control', '?')} SFT steps on the same labels ({_fmt(timings.get('control', float('nan')), 0)} s)",
    }
    arms = [a for a in ("sft", "rl", "control") if a in summary["held_out"][headline]]
    lines = [
        "# rest-rl demo report",
        "",
        f"Synthetic tool world ({world.get('tools', '?')} tools: {', '.join(world.get('domains', []))}), tiny "
        f"Qwen3-architecture model ({summary['model']['parameters'] / 1e6:.2f}M parameters) trained from scratch on "
        "CPU. Greedy decoding; exact-call accuracy on held-out examples.",
        "",
        "| model | training | " + " | ".join(f"exact-call, {s}" for s in splits) + " |",
        "|---|---|" + "---:|" * len(splits),
    ]
    for arm in arms:
        cells = []
        for split in splits:
            value = summary["held_out"][split][arm]["exact"]
            cell = f"**{value:.3f}**" if split == headline else f"{value:.3f}"
            cells.append(cell + _ci_text(summary["held_out"][split][arm].get("exact_ci")))
        lines.append(f"| {_ARM_LABELS[arm]} | {detail[arm]} | " + " | ".join(cells) + " |")
    lines.append("")
    lines += comparison_lines(summary.get("comparisons", {}), splits, items="examples")
    for split in splits:
        held = summary["held_out"][split]
        n = held["sft"]["n"]
        p = held["sft"]["exact"]
        se = math.sqrt(max(p * (1 - p), 1e-9) / max(1, n))
        lines += [
            f"**{split}** — {labels.get(split, split)}; {n} examples, one standard error near {p:.2f} is about {se:.3f}.",
            "",
            "| model | exact-call | exact (examples with calls) | tool names | format OK |",
            "|---|---:|---:|---:|---:|",
        ]
        for arm in arms:
            r = held[arm]
            lines.append(
                f"| {_ARM_LABELS[arm]} | {r['exact']:.3f}{_ci_text(r.get('exact_ci'))} | {r['exact_calls']:.3f} | "
                f"{r['tool_names']:.3f} | {r['format_ok']:.3f} |"
            )
        lines.append("")
    lines += [
        "Exact-call: the completion's `<tool_call>` block holds exactly the gold calls (names and argument values "
        "equal), or, when the gold makes no call, no block and a `<response>`. One seed, one run. In brackets: the "
        "95% percentile-bootstrap interval of the exact-call accuracy (2000 resamples of the held-out examples, "
        "seed 0); it covers the sampling of the evaluation examples, not the variation between training runs.",
        "",
        "How to read it: the SFT start saw a small labelled set; ResT RL then trained on prompts it had never seen, "
        "scored by the ToolRL reward against their gold calls (a verifier), without imitating any answer. The "
        "control arm continued SFT on the same labels for a comparable time, so the comparison is not just "
        "\"more training beats less\".",
        "",
    ]
    if records:
        first, last = records[: max(1, len(records) // 10)], records[-max(1, len(records) // 10) :]
        lines += [
            "## Per-region statistics of the sampled completions (first 10% of logs -> last 10%)",
            "",
            "| region | token share | mean entropy | mean weight |",
            "|---|---:|---:|---:|",
        ]
        for region in Region:
            cells = []
            for kind in ("share", "entropy", "weight"):
                key = f"rest/{kind}/{region.name}"
                a = _mean(series(first, key)[1])
                b = _mean(series(last, key)[1])
                cells.append(f"{_fmt(a)} -> {_fmt(b)}")
            lines.append(f"| {region.name} | " + " | ".join(cells) + " |")
        lines.append("")
    for name, caption in (
        ("reward", "Reward and rollout exact-match rate over RL steps"),
        ("entropy", "Per-region token entropy over RL steps"),
        ("weight", "Per-region ResT weight over RL steps"),
    ):
        if plots[name] is not None:
            lines += [f"![{caption}]({plots[name].name})", ""]
    lines += run_lines(
        summary,
        "Per-step metrics: `rl/metrics.jsonl`, `sft/metrics.jsonl`, `control/metrics.jsonl`; predictions: "
        "`eval/<model>-<split>.jsonl`; full configuration: `summary.json`.",
    )
    path = out / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


_COMPARISONS = {"rl_vs_sft": "RL − SFT start", "control_vs_sft": "control − SFT start", "rl_vs_control": "RL − control"}


def signed_ci(c: Mapping[str, Any]) -> str:
    """A paired comparison (:func:`rest_rl.eval.stats.paired_comparison`) in points: ``+5.0 [+0.7, +9.3]``."""
    lo, hi = c["diff_ci95"]
    return f"{100 * c['diff']:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]"


def comparison_lines(comparisons: Mapping[str, Mapping[str, Any]], splits: Sequence[str], *, items: str) -> list[str]:
    """The reports' table of paired differences between the arms (``comparisons[split][name]``, names as in
    ``_COMPARISONS``) on the same ``items``; nothing when there are none."""
    if not comparisons:
        return []
    lines = [
        f"Paired differences on the same {items} (percentage points; paired bootstrap 95% interval; exact McNemar p):",
        "",
        "| comparison | " + " | ".join(splits) + " |",
        "|---|" + "---:|" * len(splits),
    ]
    for key, label in _COMPARISONS.items():
        if all(key in comparisons.get(s, {}) for s in splits):
            cells = [f"{signed_ci(comparisons[s][key])}, p={comparisons[s][key]['mcnemar_p']:.2g}" for s in splits]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines + [""]


def run_lines(summary: Mapping[str, Any], files: str) -> list[str]:
    """The report's closing "## Run" section: seconds per stage and in total, the machine (with the load average
    when the summary has it) and ``files``, a sentence saying where the run's files are."""
    timings = summary.get("timings_s", {})
    machine = summary.get("machine", {})
    load = machine.get("load_average")
    lines = ["## Run", "", "| stage | seconds |", "|---|---:|"]
    lines += [f"| {key} | {value:.0f} |" for key, value in timings.items()]
    lines += [
        f"| **total** | **{summary.get('total_s', float('nan')):.0f}** |",
        "",
        f"Machine: {machine.get('platform', '?')}, {machine.get('cpu_count', '?')} CPUs, torch "
        f"{machine.get('torch', '?')} with {machine.get('torch_threads', '?')} threads"
        + (f"; load average at the end {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1 / 5 / 15 min)" if load else "")
        + ".",
        files,
        "",
    ]
    return lines

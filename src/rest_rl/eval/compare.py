"""Paired comparison of two evaluation runs: ``rest-rl eval compare RUN_A RUN_B``.

Every scored run directory holds ``verdicts.jsonl`` (written with ``scores.json``): one line per scored
sample, ``{"id", "group", "scores": {name: bool}}``, where the group is the API-Bank level (``L1``...)
or the BFCL category and the scores are API-Bank's ``toolrl`` / ``strict`` / ``lenient`` or BFCL's
``correct``. :func:`compare_runs` reads two such runs and, on the samples present in both,

* checks that they can be compared: same benchmark, same scoring protocol, same data (the data
  checksums of their identity, and for BFCL the bfcl-eval release); otherwise it refuses with one
  line naming the reason. Model, engine, decoding and prompt style may differ: that is what is
  being compared;
* for every score, per group and for the benchmark's aggregates (API-Bank: overall, pooled; BFCL:
  the v3 summary rows of :func:`~rest_rl.eval.bfcl.score.aggregate_v3`, with their own weighting)
  reports A's and B's accuracy, the difference B - A with a 95% paired percentile-bootstrap interval
  (sample indices resampled within each group, the same indices for both runs; see
  :mod:`rest_rl.eval.stats`), the samples that flipped in each direction and the exact two-sided
  McNemar p-value on those discordant samples (for an aggregate row: over the pooled samples of its
  groups; it tests the pooled accuracy, the interval the weighted one);
* lists the ids that flipped: *gained* (wrong in A, right in B) and *lost* (right in A, wrong in B).

Samples present in only one run are counted and left out. :meth:`Comparison.markdown` is what the
command prints; :meth:`Comparison.to_dict` what ``--out FILE`` writes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rest_rl.errors import UserError
from rest_rl.eval.report import markdown_table
from rest_rl.eval.stats import BootstrapSettings, Interval, mcnemar_exact, mean, paired_bootstrap

__all__ = [
    "VERDICTS_FILE",
    "CompareError",
    "Comparison",
    "RowComparison",
    "RunVerdicts",
    "ScoreComparison",
    "compare_runs",
    "load_run",
    "read_verdicts",
    "write_verdicts",
]

VERDICTS_FILE = "verdicts.jsonl"
_CONFIG_FILE = "config.json"


class CompareError(UserError, ValueError):
    """Two runs cannot be compared, or a run directory cannot be read (the message says why)."""


# ------------------------------------------------------------------------------------------------
# The verdicts file
# ------------------------------------------------------------------------------------------------


def write_verdicts(run_dir: str | os.PathLike[str], rows: Sequence[Mapping[str, Any]]) -> Path:
    """Write ``rows`` (``{"id", "group", "scores"}``) as the run's ``verdicts.jsonl``, atomically."""
    path = Path(run_dir) / VERDICTS_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(json.dumps(dict(row), ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_verdicts(path: str | os.PathLike[str]) -> dict[str, tuple[str, dict[str, bool]]]:
    """``{id: (group, {score: bool})}`` from a ``verdicts.jsonl`` file, in file order; a malformed line
    raises :class:`CompareError` naming the file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CompareError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CompareError(f"{path}: cannot read ({exc})") from None
    out: dict[str, tuple[str, dict[str, bool]]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise CompareError(f"{path}, line {number}: not valid JSON") from None
        ok = (
            isinstance(row, dict)
            and isinstance(row.get("id"), str)
            and isinstance(row.get("group"), str)
            and isinstance(row.get("scores"), dict)
            and all(isinstance(v, bool) for v in row["scores"].values())
        )
        if not ok:
            raise CompareError(f"{path}, line {number}: expected {{\"id\": str, \"group\": str, \"scores\": {{name: bool}}}}")
        if row["id"] in out:
            raise CompareError(f"{path}, line {number}: sample {row['id']!r} appears twice")
        out[row["id"]] = (row["group"], dict(row["scores"]))
    return out


@dataclass
class RunVerdicts:
    """A scored run directory: its identity (from ``config.json``) and its per-sample verdicts."""

    run_dir: Path
    identity: dict[str, Any]
    verdicts: dict[str, tuple[str, dict[str, bool]]]

    @property
    def benchmark(self) -> str:
        return str(self.identity.get("benchmark"))

    @property
    def protocol(self) -> str:
        return str(self.identity.get("protocol"))


def load_run(path: str | os.PathLike[str]) -> RunVerdicts:
    """Read a run directory for comparison (``config.json`` and ``verdicts.jsonl``); :class:`CompareError`
    with the reason when it is not a scored run."""
    run_dir = Path(path)
    if not run_dir.is_dir():
        raise CompareError(f"{run_dir}: no such run directory")
    config_path = run_dir / _CONFIG_FILE
    try:
        record = json.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CompareError(f"{run_dir}: not an evaluation run directory (no {_CONFIG_FILE})") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CompareError(f"{config_path}: not readable JSON ({exc})") from None
    if not isinstance(record, dict) or not isinstance(record.get("identity"), dict):
        raise CompareError(f"{config_path}: not an evaluation run config (no 'identity')")
    if not (run_dir / VERDICTS_FILE).is_file():
        raise CompareError(
            f"{run_dir}: no {VERDICTS_FILE} (the run was never scored, or was scored by an older rest-rl "
            "that did not write per-sample verdicts)"
        )
    return RunVerdicts(run_dir, dict(record["identity"]), read_verdicts(run_dir / VERDICTS_FILE))


# ------------------------------------------------------------------------------------------------
# What each benchmark reports
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _RowSpec:
    key: str  # the statistic's name
    label: str
    members: tuple[str, ...]  # the groups whose samples the row covers


@dataclass(frozen=True)
class _Spec:
    scores: tuple[str, ...]
    labels: Mapping[str, str]
    rows: Callable[[Sequence[str]], list[_RowSpec]]
    statistic: Callable[[Mapping[str, Sequence[float]]], Mapping[str, float]]


def _apibank_spec() -> _Spec:
    from rest_rl.eval.apibank.score import SCORE_NAMES

    def rows(groups: Sequence[str]) -> list[_RowSpec]:
        ordered = sorted(groups)
        return [_RowSpec(g, g, (g,)) for g in ordered] + [_RowSpec("overall", "Overall", tuple(ordered))]

    def statistic(g: Mapping[str, Sequence[float]]) -> dict[str, float]:
        out = {k: mean(v) for k, v in g.items()}
        out["overall"] = mean([x for v in g.values() for x in v])
        return out

    labels = {"toolrl": "ToolRL's decision (headline)", "strict": "name and parameters equal", "lenient": "after value normalisation"}
    return _Spec(tuple(SCORE_NAMES), labels, rows, statistic)


def _bfcl_spec() -> _Spec:
    from rest_rl.eval.bfcl.data import ALL_CATEGORIES
    from rest_rl.eval.bfcl.official import load_bfcl
    from rest_rl.eval.bfcl.score import SCORE_NAME, SUMMARY_MEMBERS, SUMMARY_ROWS, category_and_summary_accuracies

    api = load_bfcl()

    def rows(groups: Sequence[str]) -> list[_RowSpec]:
        present = set(groups)
        out = [_RowSpec(f"category:{c}", c, (c,)) for c in ALL_CATEGORIES if c in present]
        for key, label in SUMMARY_ROWS:
            members = tuple(c for c in SUMMARY_MEMBERS[key] if c in present)
            if members:
                out.append(_RowSpec(f"summary:{key}", label, members))
        return out

    return _Spec((SCORE_NAME,), {SCORE_NAME: "bfcl-eval verdict"}, rows, lambda g: category_and_summary_accuracies(g, api))


def _agent_spec() -> _Spec:
    """Agent runs: groups are domains; the overall row pools every task (success on state + answer)."""

    def rows(groups: Sequence[str]) -> list[_RowSpec]:
        ordered = sorted(groups)
        return [_RowSpec(g, f"domain {g}", (g,)) for g in ordered] + [_RowSpec("overall", "Overall", tuple(ordered))]

    def statistic(g: Mapping[str, Sequence[float]]) -> dict[str, float]:
        out = {k: mean(v) for k, v in g.items()}
        out["overall"] = mean([x for v in g.values() for x in v])
        return out

    return _Spec(("success",), {"success": "final state and final answer right"}, rows, statistic)


_SPECS: dict[str, Callable[[], _Spec]] = {"api-bank": _apibank_spec, "bfcl-v3": _bfcl_spec, "agent": _agent_spec}


# ------------------------------------------------------------------------------------------------
# The comparison
# ------------------------------------------------------------------------------------------------


@dataclass
class RowComparison:
    """One row: a group or an aggregate, with both runs' accuracies (fractions) and the paired statistics."""

    key: str
    label: str
    n: int
    a: float
    b: float
    ci: Interval
    gained: int  # wrong in A, right in B
    lost: int  # right in A, wrong in B
    p_value: float

    @property
    def diff(self) -> float:
        return self.b - self.a

    def to_dict(self) -> dict[str, Any]:
        return {
            "row": self.key,
            "label": self.label,
            "samples": self.n,
            "a": round(100 * self.a, 4),
            "b": round(100 * self.b, 4),
            "diff": round(100 * self.diff, 4),
            "diff_ci": self.ci.to_list(100.0),
            "gained": self.gained,
            "lost": self.lost,
            "mcnemar_p": self.p_value,
        }


@dataclass
class ScoreComparison:
    """All rows of one score and the ids that flipped (in run A's sample order)."""

    score: str
    label: str
    rows: list[RowComparison]
    gained: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "rows": [r.to_dict() for r in self.rows],
            "flipped": {"gained": list(self.gained), "lost": list(self.lost)},
        }


@dataclass
class Comparison:
    """The result of :func:`compare_runs`."""

    a: RunVerdicts
    b: RunVerdicts
    common: int
    only_a: int
    only_b: int
    bootstrap: BootstrapSettings
    scores: list[ScoreComparison]

    def differing_settings(self) -> dict[str, tuple[Any, Any]]:
        """The identity entries that differ between the runs (what is being compared)."""
        keys = sorted(set(self.a.identity) | set(self.b.identity))
        return {k: (self.a.identity.get(k), self.b.identity.get(k)) for k in keys if self.a.identity.get(k) != self.b.identity.get(k)}

    def to_dict(self) -> dict[str, Any]:
        return {
            "benchmark": self.a.benchmark,
            "protocol": self.a.protocol,
            "run_a": {"dir": str(self.a.run_dir), "identity": self.a.identity},
            "run_b": {"dir": str(self.b.run_dir), "identity": self.b.identity},
            "differing_settings": {k: {"a": va, "b": vb} for k, (va, vb) in self.differing_settings().items()},
            "common_samples": self.common,
            "only_in_a": self.only_a,
            "only_in_b": self.only_b,
            "units": "percent; diff = B - A in percentage points",
            "bootstrap": {**self.bootstrap.to_dict(), "paired": True},
            "mcnemar": "exact two-sided binomial test on the discordant samples of the row",
            "scores": {s.score: s.to_dict() for s in self.scores},
        }

    def markdown(self, max_ids: int = 30) -> str:
        """The report the command prints (at most ``max_ids`` flipped ids per direction and score)."""
        boot = self.bootstrap
        lines = [
            f"# Paired comparison: {self.a.benchmark} (protocol `{self.a.protocol}`)",
            "",
            f"- A: `{self.a.run_dir}` (model `{self.a.identity.get('model')}`)",
            f"- B: `{self.b.run_dir}` (model `{self.b.identity.get('model')}`)",
        ]
        diffs = self.differing_settings()
        if diffs:
            lines.append("- Settings that differ: " + "; ".join(f"{k}: {va!r} -> {vb!r}" for k, (va, vb) in diffs.items()))
        else:
            lines.append("- Settings that differ: none (same identity)")
        lines += [
            f"- Samples in both runs: {self.common} (only in A: {self.only_a}, only in B: {self.only_b}; those are left out)",
            f"- B - A in percentage points, {boot.confidence:.0%} paired percentile bootstrap ({boot.resamples} resamples "
            f"within each group, seed {boot.seed}); gained = wrong in A, right in B; lost = the reverse; McNemar = "
            "exact two-sided binomial test on gained vs lost.",
            "",
        ]
        for s in self.scores:
            lines += [f"## {s.score}: {s.label}", ""]
            table = [
                [
                    r.label,
                    r.n,
                    f"{100 * r.a:.2f}",
                    f"{100 * r.b:.2f}",
                    f"{100 * r.diff:+.2f} [{100 * r.ci.low:+.2f}, {100 * r.ci.high:+.2f}]",
                    r.gained,
                    r.lost,
                    f"{r.p_value:.3g}",
                ]
                for r in s.rows
            ]
            lines += [
                markdown_table(["Row", "Samples", "A (%)", "B (%)", "B - A (pp) [95% CI]", "Gained", "Lost", "McNemar p"], table),
                "",
            ]
            for direction, ids in (("Gained (wrong in A, right in B)", s.gained), ("Lost (right in A, wrong in B)", s.lost)):
                shown = ", ".join(ids[:max_ids]) if ids else "none"
                more = f" ... and {len(ids) - max_ids} more (all in --out JSON)" if len(ids) > max_ids else ""
                lines.append(f"{direction}: {shown}{more}")
            lines.append("")
        return "\n".join(lines)


def _check_comparable(a: RunVerdicts, b: RunVerdicts) -> None:
    where = f"cannot compare {a.run_dir} and {b.run_dir}"
    if a.benchmark != b.benchmark:
        raise CompareError(f"{where}: different benchmarks ({a.benchmark} vs {b.benchmark})")
    if a.benchmark not in _SPECS:
        raise CompareError(f"{where}: unknown benchmark {a.benchmark!r} in their config.json")
    if a.protocol != b.protocol:
        raise CompareError(f"{where}: different scoring protocols ({a.protocol} vs {b.protocol}); re-run the older one")
    data_a, data_b = a.identity.get("data_sha256"), b.identity.get("data_sha256")
    if data_a != data_b:
        names = sorted(set(data_a or {}) | set(data_b or {})) if isinstance(data_a, dict) and isinstance(data_b, dict) else []
        differing = [n for n in names if (data_a or {}).get(n) != (data_b or {}).get(n)]
        raise CompareError(f"{where}: different data (checksums differ: {', '.join(differing) or 'data_sha256'})")
    if a.identity.get("bfcl_eval") != b.identity.get("bfcl_eval"):
        raise CompareError(f"{where}: different bfcl-eval releases ({a.identity.get('bfcl_eval')} vs {b.identity.get('bfcl_eval')})")


def compare_runs(
    run_a: str | os.PathLike[str] | RunVerdicts,
    run_b: str | os.PathLike[str] | RunVerdicts,
    *,
    bootstrap: BootstrapSettings | None = None,
) -> Comparison:
    """Compare two scored runs of the same benchmark, data and protocol on their common samples (see the
    module docstring). Raises :class:`CompareError` (one line) when they cannot be compared."""
    a = run_a if isinstance(run_a, RunVerdicts) else load_run(run_a)
    b = run_b if isinstance(run_b, RunVerdicts) else load_run(run_b)
    _check_comparable(a, b)
    settings = bootstrap or BootstrapSettings()
    common = [i for i in a.verdicts if i in b.verdicts]
    if not common:
        raise CompareError(f"cannot compare {a.run_dir} and {b.run_dir}: they share no scored sample")
    for i in common:
        if a.verdicts[i][0] != b.verdicts[i][0]:
            raise CompareError(f"cannot compare {a.run_dir} and {b.run_dir}: sample {i} is in group {a.verdicts[i][0]} in A, {b.verdicts[i][0]} in B")
    spec = _SPECS[a.benchmark]()
    groups: dict[str, list[str]] = {}
    for i in common:
        groups.setdefault(a.verdicts[i][0], []).append(i)
    row_specs = spec.rows(list(groups))
    results = []
    for score in spec.scores:
        missing = [i for i in common if score not in a.verdicts[i][1] or score not in b.verdicts[i][1]]
        if missing:
            raise CompareError(f"cannot compare {a.run_dir} and {b.run_dir}: sample {missing[0]} has no {score!r} verdict")
        ga = {g: [float(a.verdicts[i][1][score]) for i in ids] for g, ids in groups.items()}
        gb = {g: [float(b.verdicts[i][1][score]) for i in ids] for g, ids in groups.items()}
        est_a, est_b = spec.statistic(ga), spec.statistic(gb)
        intervals = paired_bootstrap(
            ga, gb, spec.statistic, resamples=settings.resamples, seed=settings.seed, confidence=settings.confidence
        )
        rows = []
        for r in row_specs:
            ids = [i for g in r.members for i in groups.get(g, [])]
            gained = sum(1 for i in ids if not a.verdicts[i][1][score] and b.verdicts[i][1][score])
            lost = sum(1 for i in ids if a.verdicts[i][1][score] and not b.verdicts[i][1][score])
            rows.append(
                RowComparison(
                    key=r.key, label=r.label, n=len(ids), a=float(est_a[r.key]), b=float(est_b[r.key]),
                    ci=intervals[r.key], gained=gained, lost=lost, p_value=mcnemar_exact(gained, lost),
                )
            )
        results.append(
            ScoreComparison(
                score=score,
                label=spec.labels.get(score, score),
                rows=rows,
                gained=[i for i in common if not a.verdicts[i][1][score] and b.verdicts[i][1][score]],
                lost=[i for i in common if a.verdicts[i][1][score] and not b.verdicts[i][1][score]],
            )
        )
    return Comparison(
        a=a,
        b=b,
        common=len(common),
        only_a=sum(1 for i in a.verdicts if i not in b.verdicts),
        only_b=sum(1 for i in b.verdicts if i not in a.verdicts),
        bootstrap=settings,
        scores=results,
    )

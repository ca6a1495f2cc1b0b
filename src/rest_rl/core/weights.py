"""Token weights for ResT: per-region weights, the curriculum, and per-sequence normalisation.

ResT multiplies each completion token's clipped policy-gradient term by a weight ``w_t`` that
depends only on the token's *region* (see :mod:`rest_rl.core.regions`) and, in the paper's form,
on the mean entropy of that region in the batch. This module turns region codes (+ entropies)
into those weights. It is pure torch, has no state, and never synchronises a GPU with the host
(everything stays a tensor; only ``progress`` and ``step`` are host scalars).

Three built-in schemes (``WeightConfig.scheme``; more can be registered, see below):

``"uniform"``
    Every valid token weighs 1: :func:`token_weights` returns exactly ``mask.float()``, so
    uniform ResT is plain GRPO bit for bit.
``"official"``
    The constants of the authors' public code (docs/method.md §3), with its bugs fixed: format tags
    1.0, tool name 1.2, arguments ``min(0.6 + 0.002*s, 1.2)``, think text
    ``min(0.6 + 0.002*s, 1.0)``, every other region 0 (``s`` = global step). No entropy.
``"entropy"`` (default)
    The paper's method (docs/method.md §2). Mean region entropy ``H_r`` (batch, current policy,
    detached) is mapped to ``f(H_r) = 1 / (1 - exp(-H_r))`` or ``1 / H_r``; ``f`` is made
    scale-free by dividing by its token-count-weighted (geometric, by default) mean over the
    regions present in the batch, so the typical token's base weight is 1; the result is clipped
    into ``[w_min, w_max]``. Then the curriculum over training progress ``nu`` in [0, 1]:

    * FORMAT:               ``max(w_min, w_fmt - alpha_format * nu)``   (decays)
    * ARG_KEY / ARG_VALUE:  ``min(w_max, w_par + alpha_params * nu)``   (grows)
    * THINK:                ``min(w_max, w_thk + alpha_think * nu)``    (grows)
    * TOOL_NAME:            ``w_name``                                   (constant)
    * RESPONSE / SCAFFOLD / OTHER (the paper names no rule): per ``unnamed_region_weights``,
      either the entropy-informed base weight (no curriculum) or a constant. The default is the
      constant 1.0 (neutral, as in GRPO). Regions with a constant rule are left out of the scale
      normaliser: JSON scaffolding is a third of a tool call's tokens and nearly deterministic, and
      letting it set the scale would push the tool name -- which the paper keeps high -- below 1.

Registering a scheme. ``WEIGHT_SCHEMES`` is a read-only live view of an open registry; a new
scheme is one decorated function, accepted at once by ``WeightConfig(scheme=...)``,
:func:`region_weights`, :func:`token_weights` and the trainers' ``rest_scheme``::

    @register_weight_scheme("tools_only")
    def tools_only(cfg, *, mean_entropy, counts, progress, step, device):
        w = torch.zeros(NUM_REGIONS, dtype=torch.float64, device=device)
        w[[Region.TOOL_NAME, Region.ARG_KEY, Region.ARG_VALUE]] = 1.0
        return w

A registered scheme is called as ``fn(cfg, *, mean_entropy, counts, progress, step, device)``:

* ``cfg``: the :class:`WeightConfig` (its fields are free to use; unknown knobs belong elsewhere);
* ``mean_entropy``: ``[NUM_REGIONS]`` float64 mean entropy per region code of the batch (NaN for
  regions without tokens), or ``None`` when no entropy was given -- never ``None`` for a scheme
  registered with ``needs_entropy=True`` (callers get a ``ValueError`` first);
* ``counts``: ``[NUM_REGIONS]`` token counts per region code, or ``None``;
* ``progress``: training progress ``nu``, already clamped into [0, 1]; ``step``: the global step;
* ``device``: where the result is expected (``mean_entropy``'s device, else the CPU);

and returns the per-region weights, a ``[NUM_REGIONS]`` tensor of finite non-negative values
(cast to float64 on ``device``; values are not checked, to keep the function free of host
syncs). Everything after it is shared by all schemes: ``think_weight_zero``, the per-token
clamp, the per-sequence normalisation and the all-zero fallback. A taken name raises
``ValueError`` unless ``override=True``; :func:`unregister_weight_scheme` removes a non-built-in
scheme (see :class:`~rest_rl.core.registry.Registry`).

Per-sequence normalisation (all schemes; it is the identity for uniform): positive weights of
valid tokens are clamped into ``[clamp_min, clamp_max]``, then divided by their mean over the
sequence's valid tokens, so each sequence's mean weight over valid tokens is exactly 1 (the
denominator is floored at ``norm_eps`` rather than shifted by it, so the mean is not biased
below 1). Masked tokens get 0. A sequence with valid tokens whose weights are all zero (official
scheme on a response-only completion, or a completion with no recognised region) gets uniform
weight 1 on its valid tokens, so it still receives gradient -- unless the scheme is
``"official"`` and ``official_zero_fallback`` is set, which keeps the authors' all-zero row.
With ``think_weight_zero`` the fallback skips THINK tokens (the ablation promises no reasoning
gradient), so a think-only completion then stays all-zero.

Differences from the authors' code (docs/method.md §3) and where each is fixed
--------------------------------------------------------------------------
1. *No entropy in the weights* (fixed constants + a step ramp). Fixed here: the default scheme
   is the paper's entropy-informed curriculum; the constants are the ``"official"`` preset.
2. *Regions found by regex on decoded text and mapped to tokens by re-tokenising* (positions
   drift). Fixed in :mod:`rest_rl.core.regions`, which labels tokens from the tokenizer's exact
   character offsets. This module takes the region codes as given.
3. *Only the first call of a ``<tool_call>`` block is tagged* (later calls weigh 0). Fixed in
   :mod:`rest_rl.core.regions` (every call of every block is tagged). This module weighs every
   TOOL_NAME / ARG_KEY / ARG_VALUE token the same, whatever call it belongs to.
4. *The last token of each span gets weight 0.* Fixed in :mod:`rest_rl.core.regions` (spans are
   inclusive of their last token). This module never looks at positions: a token's weight
   depends only on its region code and its mask bit.
5. *A completion with no recognised region gets all-zero weights* (no gradient, even with a
   negative advantage). Fixed here: all-zero rows fall back to uniform weights; the
   ``official_zero_fallback`` flag restores the authors' behaviour for exact reproduction.
6. *Response text, JSON scaffolding and EOS silently weigh 0.* Fixed here for the entropy scheme:
   those regions get an entropy-informed base weight or an explicit constant
   (``unnamed_region_weights``; a constant 0 is possible but must be asked for). The official
   preset keeps 0 for them on purpose (its constants are the reproduction target) and exposes
   the value as ``official_other_weight``; rows left all-zero are covered by fix 5.
7. *The format decay is commented out.* The official preset keeps format constant (faithful);
   the entropy scheme implements the paper's decay.
8. *Hard-coded numbers* (0.6, 0.002, 1.2, 1.0, [0.001, 8]). Exposed as config fields here.
9. *Valid tokens only* (a guarantee of this module; docs/method.md §3 does not say how the authors'
   clamp treats padding): the mask is applied first, so clamping and the normalising mean see
   only the sequence's valid tokens, and padding/prompt positions always weigh 0. A region code
   outside the known range is treated as OTHER instead of raising.

The aggregation over the micro-batch (``sum m*w*l / (sum m*w + 1e-8)`` in the authors' code) is a
loss concern and lives in :mod:`rest_rl.core.loss`, not here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import torch

from rest_rl.core.curriculum import CURRICULUM_DRIVERS, ClosedLoopProgress
from rest_rl.core.regions import NUM_REGIONS, Region
from rest_rl.core.registry import Registry

__all__ = [
    "WEIGHT_SCHEMES",
    "WeightScheme",
    "WeightSchemeFn",
    "register_weight_scheme",
    "unregister_weight_scheme",
    "ENTROPY_MAPS",
    "BASE_NORMALIZERS",
    "UNNAMED_REGIONS",
    "WeightConfig",
    "WeightsOutput",
    "region_entropy_stats",
    "region_mean_entropy",
    "region_weights",
    "token_weights",
    "weights_equal_mask",
]

WeightSchemeFn = Callable[..., torch.Tensor]
"""``fn(cfg, *, mean_entropy, counts, progress, step, device) -> [NUM_REGIONS]`` (module docstring)."""


@dataclass(frozen=True)
class WeightScheme:
    """A registered weight scheme: the function and what it requires. Calling it calls ``fn``.

    Attributes:
        name: the registered name (the value of ``WeightConfig.scheme``).
        fn: ``fn(cfg, *, mean_entropy, counts, progress, step, device) -> Tensor [NUM_REGIONS]``.
        needs_entropy: :func:`region_weights` / :func:`token_weights` raise ``ValueError`` when no
            entropy statistics are given, instead of calling ``fn`` with ``mean_entropy=None``.
    """

    name: str
    fn: WeightSchemeFn
    needs_entropy: bool = False

    def __call__(
        self,
        cfg: WeightConfig,
        *,
        mean_entropy: torch.Tensor | None,
        counts: torch.Tensor | None,
        progress: float,
        step: int,
        device: torch.device,
    ) -> torch.Tensor:
        return self.fn(cfg, mean_entropy=mean_entropy, counts=counts, progress=progress, step=step, device=device)


_SCHEMES: Registry[WeightScheme] = Registry("weight scheme")

#: Name -> :class:`WeightScheme`. Read-only live view of the registry (iterating gives the names).
WEIGHT_SCHEMES: Mapping[str, WeightScheme] = _SCHEMES.view


def register_weight_scheme(
    name: str, *, needs_entropy: bool = False, override: bool = False
) -> Callable[[WeightSchemeFn], WeightSchemeFn]:
    """Decorator registering a weight scheme under ``name`` (signature: module docstring).

    Args:
        name: the value of ``WeightConfig.scheme`` that selects it.
        needs_entropy: the scheme cannot work without the batch's per-region entropy.
        override: replace an existing registration instead of raising ``ValueError``.

    The decorated function is returned unchanged.
    """
    _SCHEMES.check_name(name)

    def decorator(fn: WeightSchemeFn) -> WeightSchemeFn:
        if not callable(fn):
            raise TypeError(f"weight scheme {name!r} must be callable, got {type(fn).__name__}")
        _SCHEMES.add(name, WeightScheme(name, fn, bool(needs_entropy)), override=override)
        return fn

    return decorator


def unregister_weight_scheme(name: str) -> WeightScheme:
    """Remove a registered (non-built-in) weight scheme and return it; ``ValueError`` otherwise."""
    return _SCHEMES.unregister(name)


ENTROPY_MAPS: tuple[str, ...] = ("inv_one_minus_exp", "inverse")
BASE_NORMALIZERS: tuple[str, ...] = ("geometric", "arithmetic")
UNNAMED_REGIONS: tuple[Region, ...] = (Region.RESPONSE, Region.SCAFFOLD, Region.OTHER)

UnnamedWeight = str | float


def _default_unnamed() -> tuple[tuple[Region, UnnamedWeight], ...]:
    return tuple((r, 1.0) for r in UNNAMED_REGIONS)


def _as_region(key: object) -> Region:
    """Accept a Region, its integer code or its (case-insensitive) name."""
    if isinstance(key, Region):
        return key
    if isinstance(key, str):
        try:
            return Region[key.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown region name {key!r}") from None
    if isinstance(key, int) and not isinstance(key, bool):
        try:
            return Region(key)
        except ValueError:
            raise ValueError(f"unknown region code {key!r}") from None
    raise ValueError(f"cannot interpret {key!r} as a region")


@dataclass
class WeightConfig:
    """How ResT weighs completion tokens. Every field has a help text; defaults are documented.

    The paper did not publish its curriculum slopes or weight bounds; the defaults here are ours
    (see each field's help) and are meant to be tuned.
    """

    scheme: str = field(
        default="entropy",
        metadata={
            "help": "Weighting scheme: 'uniform' (plain GRPO, weights == mask), 'official' (the "
            "authors' constant + step-ramp schedule, bugs fixed), 'entropy' (the paper's "
            "entropy-informed weights with curriculum), or any name added with "
            "rest_rl.core.weights.register_weight_scheme."
        },
    )
    # ---- entropy scheme -------------------------------------------------------------------
    entropy_map: str = field(
        default="inv_one_minus_exp",
        metadata={
            "help": "Map from mean region entropy H to the unnormalised weight: "
            "'inv_one_minus_exp' (1/(1-exp(-H)), the paper's variance bound) or 'inverse' (1/H)."
        },
    )
    entropy_eps: float = field(
        default=1e-6,
        metadata={
            "help": "Floor on mean region entropy (nats) before the map, so a deterministic "
            "region gives a large finite value instead of a division by zero."
        },
    )
    base_normalizer: str = field(
        default="geometric",
        metadata={
            "help": "How base weights are made scale-free: divide f(H_r) by its token-count-"
            "weighted 'geometric' mean (robust: one near-deterministic region cannot push every "
            "other region to w_min) or 'arithmetic' mean (the average token gets exactly 1) over "
            "the regions present in the batch."
        },
    )
    alpha_format: float = field(
        default=0.5,
        metadata={
            "help": "Curriculum slope of the FORMAT decay: w = max(w_min, w_fmt - alpha_format*nu), "
            "nu = training progress in [0, 1]."
        },
    )
    alpha_params: float = field(
        default=0.5,
        metadata={
            "help": "Curriculum slope of the parameter (ARG_KEY/ARG_VALUE) growth: "
            "w = min(w_max, w_par + alpha_params*nu)."
        },
    )
    alpha_think: float = field(
        default=0.5,
        metadata={
            "help": "Curriculum slope of the reasoning (THINK) growth: "
            "w = min(w_max, w_thk + alpha_think*nu)."
        },
    )
    w_min: float = field(
        default=0.5,
        metadata={"help": "Lower bound of entropy-informed region weights (before normalisation)."},
    )
    w_max: float = field(
        default=2.0,
        metadata={"help": "Upper bound of entropy-informed region weights (before normalisation)."},
    )
    curriculum: bool = field(
        default=True,
        metadata={
            "help": "Apply the progress curriculum. False = static entropy-informed weights "
            "(the paper's 'no curriculum' ablation)."
        },
    )
    curriculum_driver: str = field(
        default="steps",
        metadata={
            "help": "What drives the curriculum progress nu: 'steps' (global_step / max_steps, the paper) or "
            "'structure_entropy' (closed loop: nu rises as the mean entropy of the FORMAT/TOOL_NAME/ARG regions "
            "falls from its starting value; see rest_rl.core.curriculum)."
        },
    )
    curriculum_ema: float = field(
        default=0.9,
        metadata={"help": "structure_entropy driver: EMA factor smoothing the per-batch structure entropy."},
    )
    curriculum_target_drop: float = field(
        default=0.5,
        metadata={
            "help": "structure_entropy driver: relative entropy drop at which nu reaches 1 (0.5 = when the "
            "structure entropy has halved)."
        },
    )
    think_weight_zero: bool = field(
        default=False,
        metadata={
            "help": "Give THINK tokens weight 0 (the paper's 'no reasoning gradient' ablation). "
            "Applies to every scheme; with 'uniform' the result is no longer equal to the mask."
        },
    )
    merge_parameters: bool = field(
        default=True,
        metadata={
            "help": "Treat ARG_KEY and ARG_VALUE as one 'parameters' region for the entropy "
            "average (as in the paper). False = each gets its own entropy-informed base weight; "
            "both still follow the parameter curriculum."
        },
    )
    unnamed_region_weights: tuple[tuple[Region, UnnamedWeight], ...] = field(
        default_factory=_default_unnamed,
        metadata={
            "help": "Entropy scheme only: weight rule for the regions the paper does not name "
            "(RESPONSE, SCAFFOLD, OTHER), as (region, rule) pairs or a mapping; rule is 'entropy' "
            "(entropy-informed base weight, no curriculum) or a non-negative float constant "
            "(used as-is, not clipped, and left out of the scale normaliser; 0 reproduces the "
            "authors' zero). Default: 1.0 for all three (neutral, as in GRPO), so that the many "
            "near-deterministic JSON-scaffolding tokens do not set the scale of the named regions. "
            "Regions not listed get 1.0. Keys may be Region members, codes or names."
        },
    )
    # ---- official preset (docs/method.md §3) -------------------------------------------------------
    official_format_weight: float = field(
        default=1.0, metadata={"help": "Official preset: weight of FORMAT tag tokens (constant)."}
    )
    official_tool_name_weight: float = field(
        default=1.2, metadata={"help": "Official preset: weight of TOOL_NAME tokens (constant)."}
    )
    official_args_start: float = field(
        default=0.6, metadata={"help": "Official preset: ARG_KEY/ARG_VALUE weight at step 0."}
    )
    official_args_slope: float = field(
        default=0.002, metadata={"help": "Official preset: ARG_KEY/ARG_VALUE weight increase per step."}
    )
    official_args_max: float = field(
        default=1.2, metadata={"help": "Official preset: cap of the ARG_KEY/ARG_VALUE ramp."}
    )
    official_think_start: float = field(
        default=0.6, metadata={"help": "Official preset: THINK weight at step 0."}
    )
    official_think_slope: float = field(
        default=0.002, metadata={"help": "Official preset: THINK weight increase per step."}
    )
    official_think_max: float = field(
        default=1.0, metadata={"help": "Official preset: cap of the THINK ramp."}
    )
    official_other_weight: float = field(
        default=0.0,
        metadata={
            "help": "Official preset: weight of every other region (RESPONSE, SCAFFOLD, OTHER); "
            "the authors' code uses 0."
        },
    )
    official_zero_fallback: bool = field(
        default=False,
        metadata={
            "help": "Official preset: keep all-zero weights (no gradient) for a completion whose "
            "valid tokens all weigh 0, exactly like the authors' code. False = such completions "
            "get uniform weights."
        },
    )
    # ---- per-sequence normalisation --------------------------------------------------------
    clamp_min: float = field(
        default=0.001,
        metadata={"help": "Per-sequence clamp: lower bound applied to positive weights (authors: 0.001)."},
    )
    clamp_max: float = field(
        default=8.0,
        metadata={"help": "Per-sequence clamp: upper bound applied to positive weights (authors: 8)."},
    )
    norm_eps: float = field(
        default=1e-8,
        metadata={
            "help": "delta of the normalisation: floor of the per-sequence mean weight the "
            "weights are divided by."
        },
    )

    def __post_init__(self) -> None:
        if not isinstance(self.scheme, str) or self.scheme not in WEIGHT_SCHEMES:
            raise ValueError(f"unknown weight scheme {self.scheme!r}; expected one of {tuple(WEIGHT_SCHEMES)}")
        if self.curriculum_driver not in CURRICULUM_DRIVERS:
            raise ValueError(
                f"unknown curriculum_driver {self.curriculum_driver!r}; expected one of {CURRICULUM_DRIVERS}"
            )
        ClosedLoopProgress(ema=self.curriculum_ema, target_drop=self.curriculum_target_drop)  # checks both
        if self.entropy_map not in ENTROPY_MAPS:
            raise ValueError(f"unknown entropy_map {self.entropy_map!r}; expected one of {ENTROPY_MAPS}")
        if self.base_normalizer not in BASE_NORMALIZERS:
            raise ValueError(
                f"unknown base_normalizer {self.base_normalizer!r}; expected one of {BASE_NORMALIZERS}"
            )
        positive = ("entropy_eps", "clamp_min", "clamp_max", "norm_eps")
        non_negative = (
            "alpha_format",
            "alpha_params",
            "alpha_think",
            "w_min",
            "w_max",
            "official_format_weight",
            "official_tool_name_weight",
            "official_args_start",
            "official_args_slope",
            "official_args_max",
            "official_think_start",
            "official_think_slope",
            "official_think_max",
            "official_other_weight",
        )
        for name in positive + non_negative:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        for name in non_negative:
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if self.w_min > self.w_max:
            raise ValueError(f"w_min ({self.w_min}) must be <= w_max ({self.w_max})")
        if self.clamp_min > self.clamp_max:
            raise ValueError(f"clamp_min ({self.clamp_min}) must be <= clamp_max ({self.clamp_max})")
        self.unnamed_region_weights = self._normalise_unnamed(self.unnamed_region_weights)

    @staticmethod
    def _normalise_unnamed(
        spec: Mapping[object, object] | Iterable[tuple[object, object]],
    ) -> tuple[tuple[Region, UnnamedWeight], ...]:
        """Canonical form: one (Region, rule) pair per unnamed region, in Region order."""
        items = spec.items() if isinstance(spec, Mapping) else spec
        rules: dict[Region, UnnamedWeight] = {}
        try:
            pairs = [tuple(p) for p in items]
        except TypeError:
            raise ValueError(
                "unnamed_region_weights must be a mapping or an iterable of (region, rule) pairs"
            ) from None
        for pair in pairs:
            if len(pair) != 2:
                raise ValueError(f"unnamed_region_weights entries must be (region, rule) pairs, got {pair!r}")
            region, rule = _as_region(pair[0]), pair[1]
            if region not in UNNAMED_REGIONS:
                raise ValueError(
                    f"unnamed_region_weights may only set {[r.name for r in UNNAMED_REGIONS]}, "
                    f"got {region.name}"
                )
            if region in rules:
                raise ValueError(f"unnamed_region_weights sets {region.name} twice")
            if isinstance(rule, str):
                if rule != "entropy":
                    raise ValueError(
                        f"unnamed region rule must be 'entropy' or a float, got {rule!r} for {region.name}"
                    )
                rules[region] = rule
            elif isinstance(rule, (int, float)) and not isinstance(rule, bool):
                if not math.isfinite(rule) or rule < 0:
                    raise ValueError(f"constant weight for {region.name} must be finite and >= 0, got {rule!r}")
                rules[region] = float(rule)
            else:
                raise ValueError(
                    f"unnamed region rule must be 'entropy' or a float, got {rule!r} for {region.name}"
                )
        return tuple((r, rules.get(r, 1.0)) for r in UNNAMED_REGIONS)


@dataclass
class WeightsOutput:
    """Result of :func:`token_weights`.

    Attributes:
        weights: [B, T] float32, detached. Mean over each sequence's valid tokens is 1 (0 for a
            sequence without valid tokens, or an all-zero row kept by ``official_zero_fallback``);
            masked tokens are 0.
        region_weights: [NUM_REGIONS] float64, the per-region weights before clamping and
            per-sequence normalisation.
        region_entropy: [NUM_REGIONS] float64, the mean entropy per region code (ARG_KEY and
            ARG_VALUE reported separately), NaN for regions without tokens or when no entropy
            was given.
        fallback_rows: 0-dim int64 tensor: sequences with valid tokens whose weights were all
            zero. They received uniform weights (THINK excluded under ``think_weight_zero``),
            unless ``official_zero_fallback`` kept them at zero. A tensor (not an int) so
            computing it never syncs the device; use ``int(...)``.
    """

    weights: torch.Tensor
    region_weights: torch.Tensor
    region_entropy: torch.Tensor
    fallback_rows: torch.Tensor


def _sanitise_regions(regions: torch.Tensor) -> torch.Tensor:
    """Long region codes with anything outside [0, NUM_REGIONS) mapped to OTHER."""
    regions = regions.long()
    in_range = (regions >= 0) & (regions < NUM_REGIONS)
    return torch.where(in_range, regions, torch.full_like(regions, int(Region.OTHER)))


def _check_shapes(regions: torch.Tensor, mask: torch.Tensor, entropy: torch.Tensor | None = None) -> None:
    if regions.dim() != 2:
        raise ValueError(f"regions must be [B, T], got shape {tuple(regions.shape)}")
    if mask.shape != regions.shape:
        raise ValueError(f"mask shape {tuple(mask.shape)} != regions shape {tuple(regions.shape)}")
    if entropy is not None and entropy.shape != regions.shape:
        raise ValueError(f"entropy shape {tuple(entropy.shape)} != regions shape {tuple(regions.shape)}")


def region_entropy_stats(
    regions: torch.Tensor, entropy: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-region sums of entropy and token counts over the valid tokens of a batch.

    Both are float64 [NUM_REGIONS] tensors on ``entropy``'s device, so a distributed host can
    all-reduce (sum) them across ranks before calling :func:`region_mean_entropy`. The entropy
    is detached. Region codes outside the known range count as OTHER.

    Args:
        regions: [B, T] integer region codes (:class:`~rest_rl.core.regions.Region`).
        entropy: [B, T] per-token entropy under the current policy.
        mask: [B, T] bool or 0/1, valid completion tokens.
    """
    _check_shapes(regions, mask, entropy)
    device = entropy.device
    valid = mask.to(device).bool().reshape(-1)
    codes = _sanitise_regions(regions).to(device).reshape(-1)
    # Masked positions add 0 (no boolean indexing, so no device-to-host sync).
    values = entropy.detach().to(torch.float64).reshape(-1)
    values = torch.where(valid, values, torch.zeros_like(values))
    sums = torch.zeros(NUM_REGIONS, dtype=torch.float64, device=device)
    counts = torch.zeros(NUM_REGIONS, dtype=torch.float64, device=device)
    sums.index_add_(0, codes, values)
    counts.index_add_(0, codes, valid.to(torch.float64))
    return sums, counts


def region_mean_entropy(sums: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Mean entropy per region: ``sums / counts``, NaN where a region has no tokens."""
    sums = sums.to(torch.float64)
    counts = counts.to(sums)
    nan = torch.full_like(sums, float("nan"))
    return torch.where(counts > 0, sums / counts.clamp_min(1.0), nan)


def _progress(progress: float) -> float:
    nu = float(progress)
    if math.isnan(nu):
        raise ValueError("progress must be a number in [0, 1], got NaN")
    return min(max(nu, 0.0), 1.0)


def _scheme_of(cfg: WeightConfig) -> WeightScheme:
    """The registered scheme of ``cfg`` (``ValueError`` if it was unregistered since)."""
    return _SCHEMES.get(cfg.scheme)


def _official_region_weights(cfg: WeightConfig, step: int) -> torch.Tensor:
    s = max(float(step), 0.0)
    args = min(cfg.official_args_start + cfg.official_args_slope * s, cfg.official_args_max)
    think = min(cfg.official_think_start + cfg.official_think_slope * s, cfg.official_think_max)
    w = torch.full((NUM_REGIONS,), cfg.official_other_weight, dtype=torch.float64)
    w[Region.FORMAT] = cfg.official_format_weight
    w[Region.TOOL_NAME] = cfg.official_tool_name_weight
    w[Region.ARG_KEY] = args
    w[Region.ARG_VALUE] = args
    w[Region.THINK] = think
    return w


def _entropy_region_weights(
    cfg: WeightConfig, mean_entropy: torch.Tensor, counts: torch.Tensor | None, nu: float
) -> torch.Tensor:
    h = mean_entropy.detach().to(torch.float64)
    present = torch.isfinite(h)
    if counts is not None:
        n = counts.detach().to(h)
        present = present & (n > 0)
        n = torch.where(present, n, torch.zeros_like(n))
    else:
        n = present.to(h)  # each present region counts once
    h = torch.where(present, h, torch.zeros_like(h))

    if cfg.merge_parameters:
        k, v = int(Region.ARG_KEY), int(Region.ARG_VALUE)
        n_par = n[k] + n[v]
        h_par = torch.where(n_par > 0, (h[k] * n[k] + h[v] * n[v]) / n_par.clamp_min(1e-300), h[k])
        h = h.clone()
        h[k] = h_par
        h[v] = h_par
        par_present = present[k] | present[v]  # merged region: both codes share presence
        present = present.clone()
        present[k] = par_present
        present[v] = par_present

    h = h.clamp_min(cfg.entropy_eps)
    if cfg.entropy_map == "inverse":
        f = 1.0 / h
    else:  # inv_one_minus_exp; 1 - exp(-h) == -expm1(-h), exact for small h
        f = 1.0 / (-torch.expm1(-h))

    # Regions with a constant rule do not set the scale of the entropy-informed ones.
    for region, rule in cfg.unnamed_region_weights:
        if not isinstance(rule, str):
            n = n.clone() if n is not None else n
            n[region] = 0.0
    total = n.sum()
    if cfg.base_normalizer == "geometric":
        scale = torch.exp((n * torch.log(f)).sum() / total.clamp_min(1e-300))
    else:
        scale = (n * f).sum() / total.clamp_min(1e-300)
    base = (f / scale).clamp(cfg.w_min, cfg.w_max)
    # Neutral value for regions absent from the batch (they have no tokens to weigh): the
    # typical token's weight, 1, clipped into [w_min, w_max]; the curriculum still applies.
    neutral = torch.full_like(base, min(max(1.0, cfg.w_min), cfg.w_max))
    base = torch.where(present & (total > 0), base, neutral)

    w = base.clone()
    if cfg.curriculum:
        w[Region.FORMAT] = torch.clamp_min(base[Region.FORMAT] - cfg.alpha_format * nu, cfg.w_min)
        for r in (Region.ARG_KEY, Region.ARG_VALUE):
            w[r] = torch.clamp_max(base[r] + cfg.alpha_params * nu, cfg.w_max)
        w[Region.THINK] = torch.clamp_max(base[Region.THINK] + cfg.alpha_think * nu, cfg.w_max)
    for region, rule in cfg.unnamed_region_weights:
        if not isinstance(rule, str):
            w[region] = rule
    return w


# ---- built-in schemes -------------------------------------------------------------------------


@register_weight_scheme("uniform")
def _uniform_scheme(
    cfg: WeightConfig,
    *,
    mean_entropy: torch.Tensor | None,
    counts: torch.Tensor | None,
    progress: float,
    step: int,
    device: torch.device,
) -> torch.Tensor:
    """Every region weighs 1 (plain GRPO)."""
    return torch.ones(NUM_REGIONS, dtype=torch.float64, device=device)


@register_weight_scheme("official")
def _official_scheme(
    cfg: WeightConfig,
    *,
    mean_entropy: torch.Tensor | None,
    counts: torch.Tensor | None,
    progress: float,
    step: int,
    device: torch.device,
) -> torch.Tensor:
    """The authors' constants and step ramp (no entropy)."""
    return _official_region_weights(cfg, step).to(device)


@register_weight_scheme("entropy", needs_entropy=True)
def _entropy_scheme(
    cfg: WeightConfig,
    *,
    mean_entropy: torch.Tensor | None,
    counts: torch.Tensor | None,
    progress: float,
    step: int,
    device: torch.device,
) -> torch.Tensor:
    """The paper's entropy-informed weights with the curriculum."""
    assert mean_entropy is not None  # needs_entropy: checked by region_weights
    return _entropy_region_weights(cfg, mean_entropy, counts, progress)


_SCHEMES.seal_builtins()


def weights_equal_mask(cfg: WeightConfig) -> bool:
    """Whether :func:`token_weights` returns exactly ``mask.float()`` under ``cfg``: the built-in
    ``"uniform"`` scheme (not overridden) without ``think_weight_zero``. Trainers use it to skip
    reweighting altogether (plain GRPO, bit for bit)."""
    return _scheme_of(cfg).fn is _uniform_scheme and not cfg.think_weight_zero


def region_weights(
    cfg: WeightConfig,
    *,
    mean_entropy: torch.Tensor | None = None,
    counts: torch.Tensor | None = None,
    progress: float = 0.0,
    step: int = 0,
) -> torch.Tensor:
    """Per-region weights [NUM_REGIONS] (float64) before per-token clamping and normalisation.

    Args:
        cfg: the weighting configuration; ``cfg.scheme`` names a registered scheme.
        mean_entropy: [NUM_REGIONS] mean entropy per region code (NaN = region absent), e.g.
            from :func:`region_mean_entropy`. Required by the entropy scheme (and any scheme
            registered with ``needs_entropy``), passed to the scheme otherwise.
        counts: [NUM_REGIONS] token counts per region code (entropy scheme). Used to merge
            ARG_KEY/ARG_VALUE and to weight the scale-free normaliser by tokens; without it each
            present region counts once. A region with count 0 is treated as absent.
        progress: training progress nu, clamped into [0, 1] (entropy scheme curriculum).
        step: global optimiser step (official scheme ramp); negative values count as 0.

    ``think_weight_zero`` sets THINK to 0 in every scheme. The result lives on
    ``mean_entropy``'s device when given, else on the CPU.
    """
    nu = _progress(progress)
    scheme = _scheme_of(cfg)
    device = mean_entropy.device if mean_entropy is not None else torch.device("cpu")
    if mean_entropy is None and scheme.needs_entropy:
        raise ValueError(f"the {cfg.scheme!r} weight scheme needs mean_entropy (or entropy / region_stats)")
    if mean_entropy is not None and mean_entropy.shape != (NUM_REGIONS,):
        raise ValueError(f"mean_entropy must have shape ({NUM_REGIONS},), got {tuple(mean_entropy.shape)}")
    if counts is not None and counts.shape != (NUM_REGIONS,):
        raise ValueError(f"counts must have shape ({NUM_REGIONS},), got {tuple(counts.shape)}")
    w = scheme(cfg, mean_entropy=mean_entropy, counts=counts, progress=nu, step=step, device=device)
    if not isinstance(w, torch.Tensor) or tuple(w.shape) != (NUM_REGIONS,):
        got = tuple(w.shape) if isinstance(w, torch.Tensor) else type(w).__name__
        raise ValueError(f"weight scheme {cfg.scheme!r} must return a tensor of shape ({NUM_REGIONS},), got {got}")
    w = w.to(device=device, dtype=torch.float64)
    if cfg.think_weight_zero:
        w = w.clone()  # never write into a tensor the scheme may keep
        w[Region.THINK] = 0.0
    return w


def token_weights(
    regions: torch.Tensor,
    mask: torch.Tensor,
    cfg: WeightConfig,
    *,
    entropy: torch.Tensor | None = None,
    progress: float = 0.0,
    step: int = 0,
    region_stats: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> WeightsOutput:
    """Per-token ResT weights, normalised per sequence to mean 1 over valid tokens.

    Args:
        regions: [B, T] integer region codes; codes outside the known range count as OTHER.
        mask: [B, T] bool or 0/1, valid completion tokens.
        cfg: the weighting configuration.
        entropy: [B, T] per-token entropy under the current policy (detached here). Needed by
            the entropy scheme unless ``region_stats`` is given; optional otherwise (then used
            only to report ``region_entropy``).
        progress: training progress nu in [0, 1] (clamped), for the curriculum.
        step: global step, for the official ramp.
        region_stats: pre-reduced ``(sums, counts)`` from :func:`region_entropy_stats`, e.g.
            all-reduced across ranks; takes precedence over ``entropy``.

    Per sequence: positive weights of valid tokens are clamped into [clamp_min, clamp_max] and
    divided by their mean over valid tokens (floored at norm_eps); masked tokens get 0; a row
    whose valid weights are all zero gets uniform weights on its valid tokens (THINK tokens
    excluded under ``think_weight_zero``), unless the official scheme with
    ``official_zero_fallback`` keeps it at zero. The uniform scheme (without
    ``think_weight_zero``) returns exactly ``mask.float()``.
    """
    _check_shapes(regions, mask, entropy)
    device = regions.device

    if region_stats is not None:
        sums, counts = region_stats
        sums, counts = sums.detach().to(device), counts.detach().to(device)
    elif entropy is not None:
        sums, counts = region_entropy_stats(regions, entropy, mask)
    else:
        sums = counts = None
    if sums is not None:
        mean_h = region_mean_entropy(sums, counts)
    else:
        mean_h = torch.full((NUM_REGIONS,), float("nan"), dtype=torch.float64, device=device)

    scheme = _scheme_of(cfg)
    if scheme.needs_entropy and sums is None:
        raise ValueError(f"the {cfg.scheme!r} weight scheme needs entropy or region_stats")
    rw = region_weights(
        cfg,
        mean_entropy=mean_h if sums is not None else None,
        counts=counts,
        progress=progress,
        step=step,
    ).to(device)

    valid = mask.bool()
    if weights_equal_mask(cfg):
        return WeightsOutput(
            weights=mask.float().detach(),
            region_weights=rw,
            region_entropy=mean_h,
            fallback_rows=torch.zeros((), dtype=torch.long, device=device),
        )

    w = rw[_sanitise_regions(regions)]
    w = torch.where(valid, w, torch.zeros_like(w))
    w = torch.where(w > 0, w.clamp(cfg.clamp_min, cfg.clamp_max), torch.zeros_like(w))

    n_valid = valid.sum(dim=1)
    zero_rows = (n_valid > 0) & ~(w > 0).any(dim=1)
    if not (cfg.scheme == "official" and cfg.official_zero_fallback):
        target = valid
        if cfg.think_weight_zero:  # the ablation's promise holds in the fallback too
            target = valid & (_sanitise_regions(regions) != int(Region.THINK))
        w = torch.where(zero_rows[:, None] & target, torch.ones_like(w), w)

    mean = w.sum(dim=1) / n_valid.clamp_min(1).to(w)
    w = w / mean.clamp_min(cfg.norm_eps)[:, None]
    return WeightsOutput(
        weights=w.to(torch.float32).detach(),
        region_weights=rw,
        region_entropy=mean_h,
        fallback_rows=zero_rows.sum(),
    )

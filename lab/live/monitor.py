"""The champion monitor's computations: drift of the features, calibration, P&L against its bands.

Population stability index (PSI) of one feature, reference ``e`` (the champion's training rows)
against recent ``a``::

    PSI = sum_b (a_b - e_b) * ln(a_b / e_b)

over ``n_bins`` bins (default 10) whose inner edges are the reference's deciles (quantiles
``1/n .. (n-1)/n``, linear interpolation; repeated edges merged), the outer bins open to
``-inf`` / ``+inf``; a value equal to an edge goes to the bin above it. ``a_b`` and ``e_b`` are
the shares of non-NaN rows in bin ``b``, floored at ``1e-4`` so an empty bin gives a large but
finite term. Usual reading: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 a shift worth an alert.

Calibration is :func:`lab.models.evaluation.expected_calibration_error` (10 equal-width bins). P&L bands:
the recent trades' total P&L against the 5 %-95 % band of totals of as many trades drawn with
replacement from the validation backtest's trades (seeded).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lab.errors import LabError

__all__ = ["psi", "psi_table", "pnl_bands", "monitor_alerts", "PSI_ALERT", "ECE_ALERT_RATIO", "PSI_FLOOR"]

PSI_ALERT = 0.25  # PSI above this on any feature raises an alert
ECE_ALERT_RATIO = 2.0  # recent ECE above this multiple of the validation ECE raises an alert
PSI_FLOOR = 1e-4  # smallest share a bin counts with


def psi(reference: np.ndarray, recent: np.ndarray, n_bins: int = 10) -> float:
    """Population stability index of ``recent`` against ``reference`` (see the module docstring).

    Raises
    ------
    LabError
        Either sample has no non-NaN value.
    """
    e = np.asarray(reference, dtype=np.float64)
    a = np.asarray(recent, dtype=np.float64)
    e, a = e[~np.isnan(e)], a[~np.isnan(a)]
    if e.size == 0 or a.size == 0:
        raise LabError(f"PSI needs values on both sides; got {e.size} reference and {a.size} recent non-NaN values")
    edges = np.unique(np.quantile(e, np.arange(1, n_bins) / n_bins))
    e_share = np.bincount(np.searchsorted(edges, e, side="right"), minlength=edges.size + 1) / e.size
    a_share = np.bincount(np.searchsorted(edges, a, side="right"), minlength=edges.size + 1) / a.size
    e_share = np.maximum(e_share, PSI_FLOOR)
    a_share = np.maximum(a_share, PSI_FLOOR)
    return float(np.sum((a_share - e_share) * np.log(a_share / e_share)))


def psi_table(reference: pd.DataFrame, recent: pd.DataFrame, features: list[str], n_bins: int = 10) -> pd.DataFrame:
    """PSI per feature, largest first: columns ``feature``, ``psi``, ``alert`` (psi > :data:`PSI_ALERT`)."""
    rows = [{"feature": f, "psi": psi(reference[f].to_numpy(), recent[f].to_numpy(), n_bins)} for f in features]
    table = pd.DataFrame(rows, columns=["feature", "psi"]).sort_values("psi", ascending=False, ignore_index=True)
    table["alert"] = table["psi"] > PSI_ALERT
    return table


def pnl_bands(validation_pnl: np.ndarray, recent_pnl: np.ndarray, n_simulations: int = 2000, seed: int = 0
              ) -> dict[str, float]:
    """Recent total P&L (USD) against bootstrap bands of as many validation trades.

    Returns
    -------
    dict
        ``recent_total_pnl_usd``, ``band_p05_usd``, ``band_p50_usd``, ``band_p95_usd``,
        ``recent_trades``, and ``below_band`` / ``above_band`` (1.0 or 0.0). Bands are NaN without
        validation trades.
    """
    base = np.asarray(validation_pnl, dtype=np.float64)
    recent = np.asarray(recent_pnl, dtype=np.float64)
    total = float(recent.sum())
    out = {"recent_total_pnl_usd": total, "recent_trades": float(recent.size)}
    if base.size == 0 or recent.size == 0:
        return {**out, "band_p05_usd": np.nan, "band_p50_usd": np.nan, "band_p95_usd": np.nan,
                "below_band": 0.0, "above_band": 0.0}
    draws = base[np.random.default_rng(seed).integers(0, base.size, size=(n_simulations, recent.size))].sum(axis=1)
    p05, p50, p95 = np.quantile(draws, (0.05, 0.50, 0.95))
    return {**out, "band_p05_usd": float(p05), "band_p50_usd": float(p50), "band_p95_usd": float(p95),
            "below_band": float(total < p05), "above_band": float(total > p95)}


def monitor_alerts(psi_by_feature: pd.DataFrame, recent_ece: float, validation_ece: float) -> list[str]:
    """The alert reasons (empty: no alert): PSI > 0.25 on a feature, ECE > 2x the validation ECE."""
    reasons = [f"psi {row.feature} = {row.psi:.3f} > {PSI_ALERT}" for row in psi_by_feature.itertuples() if row.psi > PSI_ALERT]
    if np.isfinite(recent_ece) and np.isfinite(validation_ece) and recent_ece > ECE_ALERT_RATIO * validation_ece:
        reasons.append(f"ece {recent_ece:.4f} > {ECE_ALERT_RATIO:g} x validation ece {validation_ece:.4f}")
    return reasons

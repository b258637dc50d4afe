"""Named questions over the warehouse views: the funnel, PII findings, feedback rates with CIs.

Each returns plain rows (dicts), so the CLI, the report and the demo format them as they like.
"""

from __future__ import annotations

import math
from typing import Any

import duckdb

from curation.stats import mean_interval, wilson_interval
from curation.views import COMPARISON_RESULTS, WarehouseError, real_day, sql_literal
from warehouse.schemas import STAGES

# ---------------------------------------------------------------------------------------------
# Named questions over the views. Each returns plain rows (dicts), so the CLI, the report and the
# demo format them however they like.

# Two-sided 95% intervals throughout.
FEEDBACK_GROUPS = {"model_version": "i.model_version", "day": "i.dt"}


def _check_date(con: duckdb.DuckDBPyConnection, date: str | None, view: str = "stats") -> None:
    if date is None:
        return
    if not real_day(date):
        raise WarehouseError(f"bad --date {date!r} (expected YYYY-MM-DD)")
    dts = [str(r[0]) for r in con.execute(f"SELECT DISTINCT dt FROM {view} ORDER BY dt").fetchall()]
    if date not in dts:
        have = f"{dts[0]} .. {dts[-1]}" if dts else "no partitions"
        raise WarehouseError(f"no {view} partition for {date} ({view} has {have})")


def _stage_order(stage: str) -> tuple[int, str]:
    return (STAGES.index(stage) if stage in STAGES else len(STAGES), stage)


# A date re-curated twice could leave two runs' rows; count only the latest run of each day.
_LATEST_STATS = """
    SELECT * FROM stats
    WHERE ({date} IS NULL OR dt = CAST({date} AS DATE))
    QUALIFY run_id = max(run_id) OVER (PARTITION BY dt)
"""


def funnel(con: duckdb.DuckDBPyConnection, date: str | None = None) -> list[dict[str, Any]]:
    """Per stage, in flow order: records in, kept, dropped, dropped by reason (from ``stats``).

    ``unaccounted`` is ``in - kept - dropped``; a correct job makes it 0 at every stage.
    Without ``date`` every day is summed.
    """
    _check_date(con, date)
    latest = _LATEST_STATS.format(date=sql_literal(date))
    totals = con.execute(f"""
        SELECT stage,
               sum(value) FILTER (WHERE metric = 'in') AS records_in,
               sum(value) FILTER (WHERE metric = 'out') AS kept,
               coalesce(sum(value) FILTER (WHERE metric = 'dropped'), 0) AS dropped
        FROM ({latest}) GROUP BY stage
    """).fetchall()
    reasons = con.execute(f"""
        SELECT stage, reason, sum(value) AS n FROM ({latest})
        WHERE metric = 'dropped' GROUP BY ALL ORDER BY stage, n DESC, reason
    """).fetchall()
    by_stage: dict[str, dict[str, int]] = {}
    for stage, reason, n in reasons:
        by_stage.setdefault(stage, {})[reason or "unspecified"] = int(n)
    rows = []
    for stage, records_in, kept, dropped in sorted(totals, key=lambda r: _stage_order(r[0])):
        if records_in is None and kept is None and not dropped:
            continue  # a stage with only pii_* metrics has no flow of its own
        unaccounted = None
        if records_in is not None and kept is not None:
            unaccounted = int(records_in) - int(kept) - int(dropped)
        rows.append(dict(
            stage=stage, records_in=records_in, kept=kept, dropped=int(dropped),
            unaccounted=unaccounted, dropped_by_reason=by_stage.get(stage, {}),
        ))
    return rows


def pii_findings(con: duckdb.DuckDBPyConnection, date: str | None = None) -> list[dict[str, Any]]:
    """PII findings per entity type per day (the scrub stage's ``pii_<ENTITY>`` counters)."""
    _check_date(con, date)
    rows = con.execute(f"""
        SELECT dt, substr(metric, 5) AS entity_type, sum(value) AS findings
        FROM ({_LATEST_STATS.format(date=sql_literal(date))})
        WHERE stage = 'scrub' AND starts_with(metric, 'pii_')
        GROUP BY ALL ORDER BY dt, findings DESC, entity_type
    """).fetchall()
    return [dict(dt=dt.isoformat(), entity_type=entity, findings=int(n)) for dt, entity, n in rows]


def _group_keys(by: str) -> list[str]:
    keys = [key.strip() for key in by.split(",") if key.strip()]
    unknown = [key for key in keys if key not in FEEDBACK_GROUPS]
    if not keys or unknown:
        raise WarehouseError(
            f"bad --by {by!r} (expected model_version, day or model_version,day)"
        )
    return keys


def feedback_summary(
    con: duckdb.DuckDBPyConnection, by: str = "model_version"
) -> list[dict[str, Any]]:
    """Feedback metrics per group, long format: one row per (group, metric).

    ``by`` is ``model_version``, ``day`` or ``model_version,day``; ``day`` is the day of the
    interaction the feedback is about (its partition), so a day's rates describe that day's
    traffic even when feedback arrives later. Metrics, each with its 95% interval and count n:

    - ``thumbs_up_rate``: thumbs-up events / thumbs events (Wilson)
    - ``mean_rating``: mean of 1..5 rating events (Student t)
    - ``edit_rate``: interactions with at least one edit / interactions (Wilson)
    - ``flag_rate``: interactions flagged at least once / interactions (Wilson)
    - ``ab_win_rate``: comparisons won / comparisons the interaction took part in, on either
      side (Wilson); a comparison between two answers of one version counts a win and a loss.
    - ``ab_cross_win_rate``: the same over comparisons against an answer of another model
      version only (a canary's win rate against the champion), leaving out picks between two
      samples of one version (the gateway's ``--self-comparison``) (Wilson)
    """
    keys = _group_keys(by)
    select = ", ".join(f"{FEEDBACK_GROUPS[k]} AS {k}" for k in keys)
    group = ", ".join(keys)
    # One pass over interactions: feedback is first folded per interaction (small), then
    # joined to the interactions once (a second join for the events costs ~40% more at 1M);
    # only the comparisons, few, look up their two answers' versions.
    totals = con.execute(f"""
        WITH on_this AS (
            SELECT interaction_id AS id,
                   count(*) FILTER (WHERE kind = 'thumbs' AND value = 1) AS up,
                   count(*) FILTER (WHERE kind = 'thumbs') AS thumbs_n,
                   sum(value) FILTER (WHERE kind = 'rating') AS r_sum,
                   sum(value * value) FILTER (WHERE kind = 'rating') AS r_sq,
                   count(*) FILTER (WHERE kind = 'rating') AS r_n,
                   count(*) FILTER (WHERE kind = 'edit') > 0 AS edited,
                   count(*) FILTER (WHERE kind = 'flag') > 0 AS flagged
            FROM feedback_events GROUP BY interaction_id
        ),{COMPARISON_RESULTS}
        SELECT {select},
               count(*) AS n_interactions,
               coalesce(sum(t.up), 0), coalesce(sum(t.thumbs_n), 0),
               coalesce(sum(t.r_sum), 0), coalesce(sum(t.r_sq), 0), coalesce(sum(t.r_n), 0),
               count(*) FILTER (WHERE t.edited), count(*) FILTER (WHERE t.flagged),
               coalesce(sum(r.wins), 0), coalesce(sum(r.wins + r.losses), 0),
               coalesce(sum(r.cross_wins), 0), coalesce(sum(r.cross_wins + r.cross_losses), 0)
        FROM interactions AS i
        LEFT JOIN on_this AS t ON t.id = i.event_id
        LEFT JOIN comparison_results AS r ON r.interaction_id = i.event_id
        GROUP BY {group}
    """).fetchall()
    width = len(keys)
    rows = []
    for row in sorted(totals, key=lambda r: tuple(str(v) for v in r[:width])):
        key = row[:width]
        (n_inter, up, thumbs_n, r_sum, r_sq, r_n, edited, flagged, wins, ab_n, cross_wins,
         cross_n) = (int(v) for v in row[width:])
        r_mean = r_sum / r_n if r_n else None
        # sample variance from exact integer sums: no cancellation error with 1..5 ratings
        r_sd = math.sqrt((r_sq * r_n - r_sum * r_sum) / (r_n * (r_n - 1))) if r_n > 1 else None
        group_values = {
            k: (v.isoformat() if hasattr(v, "isoformat") else v)
            for k, v in zip(keys, key, strict=True)
        }

        def rate(metric: str, k: int, n: int, group=group_values) -> dict[str, Any]:
            low, high = wilson_interval(int(k), int(n))
            return dict(**group, metric=metric, value=(k / n) if n else None,
                        ci_low=low if n else None, ci_high=high if n else None, n=int(n))

        r_low, r_high = mean_interval(r_mean, r_sd, int(r_n)) if r_n else (None, None)
        rows.append(rate("thumbs_up_rate", up, thumbs_n))
        rows.append(dict(**group_values, metric="mean_rating", value=r_mean,
                         ci_low=None if r_n < 2 else r_low, ci_high=None if r_n < 2 else r_high,
                         n=int(r_n)))
        rows.append(rate("edit_rate", edited, n_inter))
        rows.append(rate("flag_rate", flagged, n_inter))
        rows.append(rate("ab_win_rate", wins, ab_n))
        rows.append(rate("ab_cross_win_rate", cross_wins, cross_n))
    return rows

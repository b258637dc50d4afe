"""One self-contained HTML page about the warehouse: plots and small summary tables.

    report.write_report(warehouse, "report.html")
    python -m curation.inspect --warehouse DIR report --out report.html

Plotly's JavaScript is inlined once (no CDN, no network), so the file opens anywhere, offline.
Every number comes from ``curation.views``; the page shows aggregates only, never row text.
Each plot is a ``<div id="plot-...">`` (ids in ``PLOT_IDS``), so tests and links can find it.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from curation import questions, views
from curation.render import cell, human_bytes
from warehouse import files as storage

PLOT_IDS = {
    "funnel": "plot-funnel",
    "drops": "plot-drops",
    "pii": "plot-pii",
    "feedback": "plot-feedback",
    "ratings": "plot-ratings",
    "dedup": "plot-dedup",
}


@dataclass(frozen=True)
class ReportConfig:
    # Plot height in pixels: two plots fit a laptop screen side by side at this size.
    plot_height: int = 380
    # Plotly template; "plotly_white" prints well and reads well on a projector.
    template: str = "plotly_white"
    # Largest dedup cluster size drawn as its own bar; bigger clusters share the last bar.
    max_cluster_bar: int = 20
    # Rows of a summary table shown before "... n more".
    max_table_rows: int = 40


def _figure_html(fig, div_id: str) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                       default_width="100%", config={"displaylogo": False, "responsive": True})


def _no_data(fig, text: str) -> None:
    fig.add_annotation(text=text, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font={"size": 16, "color": "#888"})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)


def _layout(fig, title: str, config: ReportConfig, **kwargs) -> None:
    fig.update_layout(title={"text": title, "x": 0.01}, template=config.template,
                      height=config.plot_height, margin={"l": 60, "r": 20, "t": 60, "b": 50},
                      **kwargs)


def funnel_figure(funnel_rows: list[dict], config: ReportConfig):
    """Kept and dropped per stage as stacked bars: each bar's length is the stage's input.

    Not a classic funnel: the job branches (filter and dedup see interactions only, scrub sees
    feedback too), so a stage may take in more than the one before it kept.
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    flow = [r for r in funnel_rows if r["kept"] is not None]
    if flow:
        stages = [r["stage"] for r in flow]
        fig.add_trace(go.Bar(
            name="kept", y=stages, x=[r["kept"] for r in flow], orientation="h",
            marker={"color": "#4C78A8"}, textposition="inside", insidetextanchor="end",
            text=[f"{r['kept']:,}" for r in flow],
            hovertemplate="%{y}: %{x:,} kept<extra></extra>",
        ))
        fig.add_trace(go.Bar(
            name="dropped", y=stages, x=[r["dropped"] for r in flow], orientation="h",
            marker={"color": "#E45756"},
            hovertemplate="%{y}: %{x:,} dropped<extra></extra>",
        ))
    else:
        _no_data(fig, "no stage counts in stats")
    _layout(fig, "Curation funnel: records kept and dropped per stage", config, barmode="stack",
            yaxis={"autorange": "reversed"}, xaxis_title="records")
    return fig


def drops_figure(funnel_rows: list[dict], config: ReportConfig):
    import plotly.graph_objects as go
    from plotly.colors import qualitative

    fig = go.Figure()
    # up to 24 reasons keep distinct colours (the default cycle repeats after 10)
    fig.update_layout(colorway=qualitative.Dark24)
    reasons = sorted({reason for r in funnel_rows for reason in r["dropped_by_reason"]})
    stages = [r["stage"] for r in funnel_rows if r["dropped_by_reason"]]
    for reason in reasons:
        fig.add_trace(go.Bar(
            name=reason, y=stages, orientation="h",
            x=[next(r for r in funnel_rows if r["stage"] == s)["dropped_by_reason"].get(reason, 0)
               for s in stages],
        ))
    if not reasons:
        _no_data(fig, "nothing was dropped")
    _layout(fig, "Dropped records by stage and reason", config, barmode="stack",
            yaxis={"autorange": "reversed"}, xaxis_title="records")
    return fig


def pii_figure(pii_rows: list[dict], config: ReportConfig):
    import plotly.graph_objects as go

    fig = go.Figure()
    days = sorted({r["dt"] for r in pii_rows})
    totals: dict[str, int] = {}
    for r in pii_rows:
        totals[r["entity_type"]] = totals.get(r["entity_type"], 0) + r["findings"]
    for entity in sorted(totals, key=totals.get, reverse=True):
        by_day = {r["dt"]: r["findings"] for r in pii_rows if r["entity_type"] == entity}
        fig.add_trace(go.Bar(name=entity, x=days, y=[by_day.get(d, 0) for d in days]))
    if not pii_rows:
        _no_data(fig, "no PII findings recorded")
    _layout(fig, "PII findings scrubbed per day, by entity type", config, barmode="stack",
            xaxis={"type": "category", "title": "day"}, yaxis_title="findings")
    return fig


def feedback_figure(rows: list[dict], config: ReportConfig):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=(
        "thumbs-up rate (95% Wilson)", "mean rating 1-5 (95% t)"))
    versions = sorted({r["model_version"] for r in rows})
    palette = ["#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2"]
    for index, version in enumerate(versions):
        color = palette[index % len(palette)]
        for col, metric in ((1, "thumbs_up_rate"), (2, "mean_rating")):
            points = [r for r in rows if r["model_version"] == version and r["metric"] == metric
                      and r["value"] is not None]
            points.sort(key=lambda r: r["day"])

            def err(r, side):
                bound = r["ci_high"] if side == "hi" else r["ci_low"]
                return 0 if bound is None else abs(bound - r["value"])

            fig.add_trace(go.Scatter(
                x=[r["day"] for r in points], y=[r["value"] for r in points],
                mode="lines+markers", name=version, legendgroup=version,
                showlegend=col == 1, line={"color": color},
                error_y={"type": "data", "symmetric": False,
                         "array": [err(r, "hi") for r in points],
                         "arrayminus": [err(r, "lo") for r in points]},
                customdata=[r["n"] for r in points],
                hovertemplate=f"{version} %{{x}}: %{{y:.3f}} (n=%{{customdata:,}})<extra></extra>",
            ), row=1, col=col)
    if not rows:
        _no_data(fig, "no feedback yet")
    _layout(fig, "Feedback per model version over time (day of the interaction)", config)
    fig.update_layout(margin={"t": 90})  # room for the subplot titles under the title
    fig.update_xaxes(type="category")
    fig.update_yaxes(range=[0, 1], row=1, col=1)
    fig.update_yaxes(range=[1, 5], row=1, col=2)
    return fig


def ratings_figure(con: duckdb.DuckDBPyConnection, config: ReportConfig):
    import plotly.graph_objects as go

    counts = con.execute("""
        SELECT i.model_version, f.value AS rating, count(*) AS n
        FROM feedback_events AS f JOIN interactions AS i ON i.event_id = f.interaction_id
        WHERE f.kind = 'rating' GROUP BY ALL ORDER BY 1, 2
    """).fetchall()
    fig = go.Figure()
    versions = sorted({v for v, _, _ in counts})
    for version in versions:
        by_rating = {rating: n for v, rating, n in counts if v == version}
        total = sum(by_rating.values())
        fig.add_trace(go.Bar(
            name=version, x=list(range(1, 6)),
            y=[by_rating.get(r, 0) / total for r in range(1, 6)],
            customdata=[by_rating.get(r, 0) for r in range(1, 6)],
            hovertemplate=f"{version} rating %{{x}}: %{{y:.1%}} (%{{customdata:,}})"
                          "<extra></extra>",
        ))
    if not counts:
        _no_data(fig, "no rating feedback yet")
    _layout(fig, "Rating distribution per model version", config, barmode="group",
            xaxis={"title": "rating", "dtick": 1}, yaxis={"title": "share", "tickformat": ".0%"})
    return fig


def dedup_figure(con: duckdb.DuckDBPyConnection, config: ReportConfig):
    import plotly.graph_objects as go

    cap = config.max_cluster_bar
    sizes = con.execute(f"""
        SELECT least(coalesce(dedup_cluster_size, 1), {int(cap)}) AS size, count(*) AS clusters,
               sum(coalesce(dedup_cluster_size, 1)) AS records
        FROM interactions GROUP BY ALL ORDER BY size
    """).fetchall()
    fig = go.Figure()
    if sizes:
        labels = [f"{s}+" if s == cap else str(s) for s, _, _ in sizes]
        fig.add_trace(go.Bar(
            x=labels, y=[c for _, c, _ in sizes], customdata=[r for _, _, r in sizes],
            hovertemplate="size %{x}: %{y:,} kept records standing for %{customdata:,}"
                          "<extra></extra>", marker={"color": "#72B7B2"},
        ))
    else:
        _no_data(fig, "no interactions yet")
    _layout(fig, "Near-duplicate cluster sizes (records per kept interaction)",
            config, xaxis={"title": "cluster size", "type": "category"},
            yaxis={"title": "kept interactions", "type": "log"})
    return fig


def _table_html(title: str, columns: list[str], rows: list[dict], config: ReportConfig) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for row in rows[: config.max_table_rows]:
        cells = []
        for c in columns:
            text, numeric = cell(row.get(c))
            cells.append(f'<td class="{"num" if numeric else ""}">{html.escape(text)}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    more = len(rows) - config.max_table_rows
    if more > 0:
        body.append(f'<tr><td colspan="{len(columns)}">… {more:,} more rows</td></tr>')
    if not rows:
        body.append(f'<tr><td colspan="{len(columns)}">(none)</td></tr>')
    return (f"<section><h2>{html.escape(title)}</h2><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></section>")


_CSS = """
body { font-family: system-ui, -apple-system, Segoe UI, Roboto, sans-serif; margin: 24px;
       color: #222; background: #fafafa; }
h1 { margin-bottom: 4px; } .sub { color: #666; margin-top: 0; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 16px; }
.card { background: white; border: 1px solid #e3e3e3; border-radius: 6px; padding: 8px; }
table { border-collapse: collapse; font-size: 13px; background: white; }
th, td { border-bottom: 1px solid #eee; padding: 4px 10px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f0f0f0; } section { margin-top: 24px; }
"""


def build_report(con: duckdb.DuckDBPyConnection, root: str,
                 config: ReportConfig = ReportConfig()) -> str:
    from plotly.offline import get_plotlyjs

    inventory = views.inventory(con)
    funnel_rows = questions.funnel(con)
    pii_rows = questions.pii_findings(con)
    by_version = questions.feedback_summary(con, "model_version")
    by_version_day = questions.feedback_summary(con, "model_version,day")
    figures = {
        "funnel": funnel_figure(funnel_rows, config),
        "drops": drops_figure(funnel_rows, config),
        "pii": pii_figure(pii_rows, config),
        "feedback": feedback_figure(by_version_day, config),
        "ratings": ratings_figure(con, config),
        "dedup": dedup_figure(con, config),
    }
    plots = "".join(f'<div class="card">{_figure_html(fig, PLOT_IDS[name])}</div>'
                    for name, fig in figures.items())
    tables = [
        _table_html("Tables", ["table", "partitions", "first_dt", "last_dt", "rows", "bytes"],
                    [dict(r, bytes=human_bytes(r["bytes"])) for r in inventory], config),
        _table_html("Funnel (all days)", ["stage", "records_in", "kept", "dropped",
                                          "dropped_by_reason"], funnel_rows, config),
        _table_html("Feedback per model version (95% intervals)",
                    ["model_version", "metric", "value", "ci_low", "ci_high", "n"],
                    by_version, config),
    ]
    view_names = views.list_views(con)
    for view, title, preferred, order in (
        (views.DEPLOYMENTS, "Deployments", DEPLOYMENT_COLUMNS, ("at", "when")),
        (views.DATASET_VIEW, "Datasets", DATASET_COLUMNS, ("as_of", "dataset_id")),
    ):
        if view in view_names:
            tables.append(_listing(con, view, title, preferred, order, config))
    days = sorted({r["first_dt"] for r in inventory if r["first_dt"]}
                  | {r["last_dt"] for r in inventory if r["last_dt"]})
    span = f"{days[0]} to {days[-1]}" if days else "no partitions"
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<title>Flywheel warehouse report</title>"
        f"<style>{_CSS}</style>"
        f"<script type=\"text/javascript\">{get_plotlyjs()}</script></head><body>"
        "<h1>Flywheel warehouse report</h1>"
        f"<p class=\"sub\">{html.escape(root)} &middot; {html.escape(span)} &middot; "
        f"generated {made}</p>"
        f"<div class=\"grid\">{plots}</div>{''.join(tables)}</body></html>\n"
    )


# Columns shown for deployments and dataset manifests when present (the full rows are one
# `inspect sample` away); a table without any of them is shown whole.
DEPLOYMENT_COLUMNS = ("at", "when", "model_name", "action", "from_version", "to_version",
                      "reason", "dataset_id")
DATASET_COLUMNS = ("dataset_id", "as_of", "window", "counts", "rules_version", "stale")


def _listing(con, view: str, title: str, preferred: tuple[str, ...], order: tuple[str, ...],
             config: ReportConfig) -> str:
    present = [r[0] for r in con.execute(f'DESCRIBE "{view}"').fetchall()]
    columns = [c for c in preferred if c in present] or present
    order_by = next((c for c in order if c in present), present[0])
    quoted = ", ".join(f'"{c}"' for c in columns)
    names, rows = views.run_query(con, f'SELECT {quoted} FROM "{view}" ORDER BY "{order_by}"')
    return _table_html(title, names, [dict(zip(names, r, strict=True)) for r in rows], config)


def write_report(
    warehouse: str | os.PathLike, out_path: str | os.PathLike,
    config: ReportConfig = ReportConfig(), con: duckdb.DuckDBPyConnection | None = None,
) -> Path | str:
    """Write the report for ``warehouse`` to ``out_path`` (a path or an object-store URL);
    returns the absolute path, or the URL."""
    remote = storage.is_url(out_path)
    out = str(out_path) if remote else Path(out_path).expanduser().resolve()
    if not remote and out.is_dir():
        raise views.WarehouseError(f"--out {out} is a directory (expected an .html file)")
    own = con is None
    con = con or views.connect(warehouse)
    try:
        page = build_report(con, views.warehouse_root(warehouse), config)
    finally:
        if own:
            con.close()
    # atomic: a temp file and os.replace locally, one whole-object PUT on an object store
    storage.atomic_write(str(out), page)
    return out


"""The portfolio risk report as one self-contained HTML page (``render_html``): static HTML and
inline CSS only, no script, no external asset, no link: it opens the same offline and in ten
years. The same content as ``main.py risk report``: the VaR/CVaR grid, the decomposition by
position, sector, asset class and strategy, betas, the stress table, a heatmap of positions
(tiles grouped by sector, sized by exposure, coloured by day P&L %) and the correlation matrix
as a shaded grid.
"""

from __future__ import annotations

from decimal import Decimal
from html import escape

from workstation.risk.report_doc import PortfolioReport

__all__ = ["render_html"]

GROUP_NAMES = {"sector": "Sectors", "asset_class": "Asset classes", "strategy": "Strategies"}


def money(v: float | Decimal | None) -> str:
    return "-" if v is None else f"{v:,.2f}"


def pct(v: float | Decimal | None, digits: int = 2) -> str:
    return "-" if v is None else f"{v:+.{digits}f}%"


def _table(head: list[str], rows: list[list[str]], cls: str = "") -> str:
    h = "".join(f"<th>{escape(x)}</th>" for x in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><tr>{h}</tr>{body}</table>'


def _tile_colour(day: float | None) -> str:
    if day is None:
        return "#d0d0d0"
    s = min(1.0, abs(day) / 3.0)  # 3% and beyond: full colour
    return f"rgba(26,127,55,{0.2 + 0.8 * s:.2f})" if day >= 0 else f"rgba(207,34,46,{0.2 + 0.8 * s:.2f})"


def _heatmap(report: PortfolioReport) -> str:
    gross = sum(abs(t.exposure) for t in report.heatmap) or 1.0
    sectors: dict[str, list[str]] = {}
    for t in report.heatmap:
        share = abs(t.exposure) / gross
        side = " short" if t.exposure < 0 else ""
        tip = f"{t.symbol}: exposure {money(t.exposure)} {report.base_currency}, day {pct(t.day_pnl_pct)}"
        sectors.setdefault(t.sector, []).append(
            f'<div class="tile{side}" title="{escape(tip)}" style="flex-grow:{share * 1000:.0f};'
            f'background:{_tile_colour(t.day_pnl_pct)}"><b>{escape(t.symbol)}</b><br>{pct(t.day_pnl_pct)}'
            f"<br>{share * 100:.1f}%</div>"
        )
    out = []
    for name, tiles in sectors.items():
        weight = sum(abs(t.exposure) for t in report.heatmap if t.sector == name) / gross
        out.append(f'<div class="sector" style="flex-grow:{weight * 1000:.0f}"><div class="sname">{escape(name)}</div>'
                   f'<div class="tiles">{"".join(tiles)}</div></div>')
    return f'<div class="heat">{"".join(out)}</div>'


def _correlation(report: PortfolioReport) -> str:
    syms = report.risk.correlation_symbols
    head = "<th></th>" + "".join(f"<th>{escape(s)}</th>" for s in syms)
    rows = []
    for s, row in zip(syms, report.risk.correlation, strict=True):
        cells = []
        for v in row:
            colour = f"rgba(9,105,218,{abs(v):.2f})" if v >= 0 else f"rgba(207,34,46,{abs(v):.2f})"
            ink = "#fff" if abs(v) > 0.6 else "#222"
            cells.append(f'<td style="background:{colour};color:{ink}">{v:+.2f}</td>')
        rows.append(f"<tr><th>{escape(s)}</th>{''.join(cells)}</tr>")
    return f'<table class="corr"><tr>{head}</tr>{"".join(rows)}</table>'


def render_html(report: PortfolioReport) -> str:
    r = report.risk
    methods = report.methods
    conf, hor = r.decomposition_confidence, r.decomposition_horizon
    parts = [f"<h1>Portfolio risk: {escape(r.base_currency)} {money(report.equity)} equity</h1>",
             f"<p>{r.days} days of returns, {escape(r.first_day)} to {escape(r.last_day)}; "
             + (f"EWMA lambda {r.decay}" if r.decay is not None else "equal weights")
             + f"; benchmark {escape(r.benchmark)}.</p>"]
    grid = []
    for m in methods:
        for h in sorted({f.horizon for f in r.figures}):
            for c in sorted({f.confidence for f in r.figures}):
                f = r.figure(m, c, h)
                if f is not None:
                    grid.append([m, f"{c * 100:g}%", f"{h} day" + ("s" if h > 1 else ""), money(f.var), money(f.cvar)])
    parts += ["<h2>Value at risk</h2>", _table(["method", "confidence", "horizon", "VaR", "CVaR"], grid)]
    rank = sorted(r.positions, key=lambda p: -abs(p.component_var.get(methods[0], 0.0)))
    parts += [f"<h2>Positions by component VaR ({conf * 100:g}%, {hor} day)</h2>", _table(
        ["symbol", "sector", "class", "exposure", "vol/day", "beta", "marginal VaR", *methods],
        [[p.symbol, p.sector, p.asset_class, money(p.exposure), f"{p.vol * 100:.2f}%",
          "-" if p.beta is None else f"{p.beta:.2f}", f"{p.marginal_var:.4f}",
          *(money(p.component_var.get(m)) for m in methods)] for p in rank],
    )]
    for by, title in GROUP_NAMES.items():
        rows = [[g.name, money(g.exposure), *(money(g.component_var.get(m)) for m in methods)]
                for g in sorted((g for g in r.groups if g.by == by), key=lambda g: -abs(g.component_var.get(methods[0], 0.0)))]
        parts += [f"<h2>{title}</h2>", _table([by.replace("_", " "), "exposure", *methods], rows)]
    parts += ["<h2>Betas and diversification</h2>", _table(["figure", "value"], [
        ["portfolio beta", "-" if r.beta is None else f"{r.beta:.3f}"],
        [f"{r.benchmark} exposure that moves like the book", money(r.beta_exposure)],
        ["diversification ratio", "-" if r.diversification_ratio is None else f"{r.diversification_ratio:.3f}"],
        ["portfolio vol per day", money(r.portfolio_vol)],
    ])]
    parts += ["<h2>Stress scenarios</h2>", _table(
        ["scenario", "P&L", "% of equity", "worst positions", "by sector"],
        [[s.scenario + (f" ({s.window})" if s.window and s.window not in s.scenario else ""),
          money(s.pnl) if s.measured else "-", pct(s.pnl_pct),
          ", ".join(f"{w.symbol} {money(w.pnl)}" for w in s.worst) or ("-" if s.measured else "; ".join(s.notes)),
          ", ".join(f"{t.name} {money(t.pnl)}" for t in s.by_sector if t.pnl)] for s in report.stress],
    )]
    parts += ["<h2>Heatmap</h2><p>Tiles grouped by sector, sized by exposure, coloured by day P&amp;L % "
              "(green up, red down; dashed: short).</p>", _heatmap(report)]
    parts += ["<h2>Correlation</h2>", _correlation(report)]
    if r.left_out:
        parts += ["<h2>Left out</h2>", "<ul>" + "".join(f"<li>{escape(x)}</li>" for x in r.left_out) + "</ul>"]
    return _PAGE.replace("__BODY__", "\n".join(parts))


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Portfolio risk</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;background:#fafafa;color:#222}
h1{font-size:20px} h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;background:#fff;margin:8px 0} td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}
th{background:#f0f0f0} td:first-child,th:first-child{text-align:left}
.corr td{text-align:center;min-width:44px}
.heat{display:flex;flex-wrap:wrap;gap:6px;max-width:1100px}
.sector{display:flex;flex-direction:column;min-width:120px;border:1px solid #bbb;background:#fff}
.sname{font-size:12px;padding:2px 6px;background:#eee}
.tiles{display:flex;flex-wrap:wrap;flex:1}
.tile{min-width:70px;min-height:64px;margin:2px;padding:4px;font-size:12px;border:1px solid #888}
.tile.short{border-style:dashed;border-width:2px}
</style></head><body>
__BODY__
</body></html>
"""

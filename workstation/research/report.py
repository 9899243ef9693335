"""What a backtest shows: the terminal summary, the JSON document, CSV files and the HTML report.

A run's fills can be many (a million bars: tens of thousands; ten million: hundreds of
thousands), so nothing here holds them all: ``write_json`` writes the ``--json`` document as a
stream, the fills encoded a batch at a time while the same pass folds them into the figures
(``figures.fold``); the CSV files are written row by row from the journal; the HTML report
embeds bounded samples (the equity curve and prices as the run kept them, at most 5,000 price
markers per symbol and 2,000 fill rows).

The HTML report is one self-contained file: the data is embedded as JSON and drawn by a
small script written here into inline SVG (no CDN, no network). Charts: equity, drawdown,
monthly returns heatmap, price with trade markers; hovering shows values. A run that worked
execution algorithms (TWAP, VWAP, POV) also gets an "Execution vs benchmarks" table, written
here as HTML: each parent against its arrival and interval VWAP, with the participation it
achieved (the same rows as the JSON document's ``execution_algorithms``).
"""

from __future__ import annotations

import csv
import html
import json
import math
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import msgspec
import numpy as np

from workstation.research.backtest import BacktestResult
from workstation.research import exec_benchmarks
from workstation.research.figures import FillBatch, FillFigures, attribution, execution, fold, metrics, refusals
from workstation.core import formatting
from workstation.core.model import iso, plain

_RATIOS = ("sharpe", "sortino", "calmar", "alpha", "beta", "profit_factor", "turnover")
_PCTS = ("total_return", "annual_return", "annual_volatility", "max_drawdown", "var_95", "cvar_95", "win_rate",
         "exposure", "benchmark_return")


def _jsonable(v: Any) -> Any:
    if isinstance(v, Decimal):
        return plain(v)
    if isinstance(v, float):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (np.floating, np.integer)):
        return _jsonable(v.item())
    return v


class _FillRow(msgspec.Struct):
    """A fill as the JSON document shows it (the field order is the document's)."""

    ts: str
    symbol: str
    side: str
    qty: str | None
    price: str | None
    commission: str | None
    strategy: str | None
    order_id: str


class _Plain(dict):
    """``plain`` of each value met, a Decimal or its text (a run's quantities and prices
    repeat); bounded."""

    def __missing__(self, d: Decimal | str) -> str | None:
        if len(self) > 50_000:
            self.clear()
        text = self[d] = plain(Decimal(d) if isinstance(d, str) else d)
        return text


class _Iso(dict):
    """``iso`` of fill times, the date part written once per day: a whole second's time is
    that day's text and the hour, minute and second (the same text ``iso`` writes); any
    other time goes to ``iso``. Keys: day numbers since 1970."""

    def __missing__(self, day: int) -> str:
        if len(self) > 10_000:
            self.clear()
        text = self[day] = iso(day * 86_400.0)[:11]  # "2020-09-13T"
        return text

    def __call__(self, t: float) -> str:
        if t != t or not 0 <= t < 253_402_300_800 or t != int(t):  # (NaN, years outside 1970-9999, fractions)
            return iso(t)
        day, s = divmod(int(t), 86_400)
        h, s = divmod(s, 3_600)
        m, s = divmod(s, 60)
        return f"{self[day]}{h:02d}:{m:02d}:{s:02d}.000Z"

    def column(self, ts: list[float]) -> list[str]:
        """``self(t)`` of each time, the whole seconds of 1970-9999 written by numpy in one
        call (the same text: ``YYYY-MM-DDTHH:MM:SS`` and ``.000Z``), any other time by ``self``."""
        a = np.asarray(ts, dtype=np.float64)
        whole = (a >= 0) & (a < 253_402_300_800) & (a == np.floor(a))  # (False for NaN)
        if not whole.all():
            return [self(t) for t in ts]
        return np.char.add(np.datetime_as_string(a.astype("datetime64[s]"), unit="s"), ".000Z").tolist()


def _rows(batch: FillBatch, texts: _Plain, upto: int | None = None, when: _Iso | None = None) -> list[_FillRow]:
    """The batch's first ``upto`` fills (all: None) as the document shows them."""
    when = when or _Iso()
    qty, price, commission = batch.text or (batch.qty, batch.price, batch.commission)  # (texts: cheaper keys)
    cols = (when.column(batch.ts[:upto]), batch.symbol, batch.buy, qty, price, commission, batch.strategy, batch.order_id)
    return [_FillRow(t, sym, "buy" if buy else "sell", texts[q], texts[p], texts[c], strategy, oid)
            for t, sym, buy, q, p, c, strategy, oid in zip(*(c[:upto] for c in cols))]


def _rest(result: BacktestResult, folded: FillFigures) -> dict[str, Any]:
    """The document after its fills (the figures need the pass over the fills made first)."""
    attr = attribution(result, folded)
    ex = execution(result, folded)
    return _jsonable({
        "final_equity": result.final_equity,
        "metrics": metrics(result, folded),
        "positions": {s: q for s, q in result.positions.items()},
        "attribution": {k: attr[k] for k in ("symbol", "strategy", "day", "week", "month")},
        "execution": {"by_symbol": ex["by_symbol"], "by_strategy": ex["by_strategy"]},
        "execution_algorithms": algorithms(result),
        "strategies": result.strategies,
        "spikes_filtered": result.spikes,
        "refusals": refusals(result),
        **model_figures(result, folded),
        "journal": result.journal_path,
    })


def write_json(result: BacktestResult, out: IO[bytes]) -> None:
    """The ``--json`` document written to ``out`` as it is made: ``{"fills": [...], ...}``.

    The fills are encoded a batch at a time as they are read and folded into the figures,
    which follow them; nothing proportional to the number of fills is held beyond a batch.
    Money is exact decimal strings, times ISO-8601, non-finite floats null."""
    encode = msgspec.json.Encoder().encode
    texts, when = _Plain(), _Iso()
    first = True

    def write(batch: FillBatch) -> None:
        nonlocal first
        if batch.qty:
            items = encode(_rows(batch, texts, None, when))[1:-1]  # (the array's items, without its brackets)
            out.write(items if first else b"," + items)
            first = False

    out.write(b'{"fills":[')
    folded = fold(result, write)
    out.write(b"],")
    out.write(encode(_rest(result, folded))[1:])


def document(result: BacktestResult) -> dict[str, Any]:
    """The ``--json`` document as one dict (what ``write_json`` writes; for small runs)."""
    rows: list[dict[str, Any]] = []
    texts = _Plain()
    folded = fold(result, lambda batch: rows.extend(msgspec.structs.asdict(r) for r in _rows(batch, texts)))
    return {"fills": rows, **_rest(result, folded)}


def to_json(result: BacktestResult) -> str:
    return json.dumps(document(result))


# --------------------------------------------------------------------------- terminal


def _fmt(key: str, v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, Decimal):
        return f"{v:,.2f}"
    if key in _PCTS:
        return f"{v * 100:.2f}%"
    if key.endswith("_days"):
        return formatting.days(v)
    if isinstance(v, float):
        return f"{v:,.3f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def _chart(result: BacktestResult, width: int = 100) -> str:
    """Equity and drawdown drawn in text (plotext)."""
    import plotext as plt

    from workstation.research import analytics as a

    days, eq = result.curve.days, result.curve.day_equity
    if len(eq) < 2:
        return ""
    x = list(range(len(eq)))
    dd = (a.drawdown(eq) * 100).tolist()
    plt.clear_figure()
    plt.subplots(2, 1)
    plt.plot_size(width, 24)
    plt.subplot(1, 1)
    plt.plot(x, eq.tolist(), marker="braille")
    plt.title("Equity")
    step = max(1, len(x) // 6)
    plt.xticks(x[::step], [d.isoformat() for d in days[::step]])
    plt.subplot(2, 1)
    plt.plot(x, dd, marker="braille", color="red")
    plt.title("Drawdown %")
    plt.xticks(x[::step], [d.isoformat() for d in days[::step]])
    plt.theme("clear")
    text = plt.build()
    plt.clear_figure()
    return text


def summary(result: BacktestResult) -> Any:
    """A Rich renderable: the metrics, attribution and execution tables and the charts."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    folded = fold(result)
    m = metrics(result, folded)
    t = Table(title="Backtest", title_justify="left", show_header=False)
    t.add_column("figure")
    t.add_column("value", justify="right")
    t.add_column("figure")
    t.add_column("value", justify="right")
    keys = [k for k in m if k not in ("periods_per_year",)]
    half = (len(keys) + 1) // 2
    for a, b in zip(keys[:half], keys[half:] + [""] * (2 * half - len(keys)), strict=True):
        t.add_row(a, _fmt(a, m[a]), b, _fmt(b, m.get(b)) if b else "")
    attr = attribution(result, folded)
    at = Table(title="P&L by symbol and strategy", title_justify="left")
    at.add_column("by")
    at.add_column("name")
    at.add_column("P&L", justify="right")
    for kind in ("symbol", "strategy"):
        for k, v in attr[kind].items():
            at.add_row(kind, k, f"{v:,.2f}")
    pt = _periods_table(attr)
    ex = execution(result, folded)
    et = Table(title="Execution quality (cost > 0 is worse than the reference)", title_justify="left")
    for col in ("symbol", "fills", "vs decision $", "bps", "vs arrival $", "bps"):
        et.add_column(col, justify="right" if col != "symbol" else "left")
    for k, v in ex["by_symbol"].items():
        et.add_row(k, str(v["fills"]), _fmt("", v["vs_decision"]), _fmt("", v["vs_decision_bps"]),
                   _fmt("", v["vs_arrival"]), _fmt("", v["vs_arrival_bps"]))
    parts: list[Any] = [t, at, pt, et, *cost_tables(result, folded)]
    parts += filter(None, [exec_benchmarks.table(exec_benchmarks.for_backtest(result))])
    refused = refusals(result)
    if refused:
        rt = Table(title=f"Orders refused: {sum(v['count'] for v in refused.values()):,}", title_justify="left")
        rt.add_column("rule")
        rt.add_column("orders", justify="right")
        rt.add_column("for example")
        for rule, v in refused.items():
            rt.add_row(rule, f"{v['count']:,}", v["example"])
        parts.append(rt)
    chart = _chart(result)
    if chart:
        parts.append(Text.from_ansi(chart))
    strategies = ", ".join(f"{n} ({s['state']})" for n, s in result.strategies.items())
    refused_line = f"; {sum(v['count'] for v in refused.values()):,} orders refused" if refused else ""
    parts.append(Text(f"{folded.fills:,} fills{refused_line}; strategies: {strategies}; positions left open: "
                      + (", ".join(f"{s} {plain(q)}" for s, q in result.positions.items()) or "none")))
    return Group(*parts)


def _periods_table(attr: dict[str, Any]) -> Any:
    """P&L by day, week and month: how many periods gained, the best and the worst, the total
    (the same for the three: each sums to the run's P&L); every period is in ``--json`` and the
    HTML report."""
    from rich.table import Table

    from workstation.research.periods import PERIODS, summarise

    pt = Table(title="P&L by day, week and month", title_justify="left")
    for col in ("by", "periods", "up", "best", "worst", "P&L"):
        pt.add_column(col, justify="left" if col == "by" else "right")
    for kind in PERIODS:
        s = summarise(attr[kind])
        best = f"{s['best'][1]:+,.2f} {s['best'][0]}" if s["best"] else "—"
        worst = f"{s['worst'][1]:+,.2f} {s['worst'][0]}" if s["worst"] else "—"
        pt.add_row(kind, f"{s['periods']:,}", f"{s['up']:,}", best, worst, f"{s['total']:,.2f}")
    return pt


# --------------------------------------------------------------------------- CSV


def write_csv(result: BacktestResult, folder: Path) -> int:
    """``fills.csv``, ``orders.csv`` and ``equity.csv`` into ``folder``, written row by row as the
    fills and orders are read. ``equity.csv`` is the curve as the run kept it: every bar close,
    or every k-th one (and the last) for a run longer than the curve keeps; returns that k."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "fills.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["ts", "symbol", "side", "qty", "price", "commission", "strategy", "order_id", "exec_id"])
        texts = _Plain()
        w.writerows([iso(f.ts), f.symbol, f.side.value, texts[f.qty], texts[f.price], texts[f.commission],
                     f.strategy or "", f.order_id, f.exec_id] for f in result.iter_fills())
    with open(folder / "orders.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        cols = ["id", "created", "symbol", "side", "qty", "type", "tif", "status", "limit_price", "stop_price",
                "filled_qty", "avg_fill_price", "decision_price", "arrival_price", "strategy", "reason"]
        w.writerow(cols)
        arrivals = result.arrivals
        w.writerows([o.id, iso(o.created), o.symbol, o.side.value, plain(o.qty), o.type.value, o.tif.value,
                     o.status.value, plain(o.limit_price) or "", plain(o.stop_price) or "", plain(o.filled_qty),
                     plain(o.avg_fill_price) or "", plain(o.decision_price) or "",
                     plain(arrivals.get(o.id)) or "", o.strategy or "", o.reason or ""] for o in result.iter_orders())
    curve = result.curve
    with open(folder / "equity.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["ts", "equity", "gross_exposure"])
        w.writerows([iso(t), f"{e:.2f}", f"{g:.2f}"]
                    for t, e, g in zip(curve.ts.tolist(), curve.equity.tolist(), curve.gross.tolist(), strict=True))
    return curve.step


# --------------------------------------------------------------------------- HTML


def _downsample(ts: np.ndarray, values: np.ndarray, limit: int = 4_000) -> tuple[list[float], list[float]]:
    if len(ts) <= limit:
        return ts.tolist(), values.tolist()
    idx = np.unique(np.linspace(0, len(ts) - 1, limit).astype(np.int64))
    return ts[idx].tolist(), values[idx].tolist()


def html_data(result: BacktestResult) -> dict[str, Any]:
    """The report's data: figures, the kept equity curve and price samples (at most 4,000
    points each), at most 5,000 fill markers per symbol and the first 2,000 fills."""
    from workstation.research import analytics as a

    curve = result.curve
    t, e = _downsample(curve.ts, curve.equity)
    dd = a.drawdown(np.asarray(e)).tolist()
    marks: dict[str, list[dict[str, Any]]] = {s: [] for s in result.prices}
    rows: list[dict[str, Any]] = []
    texts = _Plain()

    def keep(batch: FillBatch) -> None:
        for t, sym, buy, q, p in zip(batch.ts, batch.symbol, batch.buy, batch.qty, batch.price):
            m = marks.get(sym)
            if m is not None and len(m) < 5_000:
                m.append({"t": t, "p": float(p), "side": "buy" if buy else "sell", "q": texts[q]})
        if len(rows) < 2_000:
            rows.extend(msgspec.structs.asdict(r) for r in _rows(batch, texts, 2_000 - len(rows)))

    folded = fold(result, keep)
    prices = {}
    for sym, p in result.prices.items():
        pt, pc = _downsample(p.ts, p.close)
        prices[sym] = {"t": pt, "c": pc, "fills": marks[sym]}
    attr = attribution(result, folded)
    ex = execution(result, folded)
    return _jsonable({
        "metrics": metrics(result, folded), "equity": {"t": t, "v": e, "dd": dd},
        "monthly": a.monthly_returns(curve.days, curve.day_equity, float(result.initial_cash)),
        "prices": prices,
        "attribution": {k: attr[k] for k in ("symbol", "strategy", "day", "week", "month")},
        "execution": {"by_symbol": ex["by_symbol"], "by_strategy": ex["by_strategy"]},
        "strategies": result.strategies,
        **model_figures(result, folded),
        "fills": rows,
    })


def algorithms(result: BacktestResult) -> list[dict[str, Any]]:
    """Each execution algorithm's parent against its benchmarks (``exec_benchmarks``), with the
    participation it achieved: its filled quantity over the market's volume on the bars of its
    interval (the bars the interval VWAP weighs), and for a POV its target ``rate``."""
    found = exec_benchmarks.for_backtest(result)
    if not found:
        return []
    series = {s.symbol: s for s in result.series}
    rows = []
    for p in found:
        row = p.as_dict()
        s = series.get(p.symbol)
        achieved = None
        if s is not None and p.filled:
            keep = (s.ts >= p.start) & (s.ts <= p.end) & (s.volume > 0)
            volume = float(s.volume[keep].sum())
            achieved = float(p.filled) / volume if volume > 0 else None
        rate = result.strategies.get(p.strategy, {}).get("params", {}).get("rate")
        row["participation"] = achieved
        row["target_rate"] = float(rate) if rate is not None else None
        rows.append(row)
    return rows


def _bps(v: float | None) -> str:
    return "-" if v is None else f"{v:+,.2f}"


def _price(v: Any) -> str:
    return "-" if v is None else f"{Decimal(str(v)):,.4f}"


def algorithms_html(rows: list[dict[str, Any]]) -> str:
    """The report's "Execution vs benchmarks" section ("" when the run worked no parent order)."""
    if not rows:
        return ""
    head = ("parent order", "symbol", "side", "qty filled", "avg price", "arrival", "vs arrival bps",
            "interval VWAP", "vs VWAP bps", "participation")
    out = ['<h2 id="algos-title">Execution vs benchmarks</h2><div id="algos"><table><tr>']
    out += [f"<th>{html.escape(h)}</th>" for h in head]
    out.append("</tr>")
    for r in rows:
        name = r["strategy"] if r["algorithm"] == r["strategy"] else f"{r['strategy']} ({r['algorithm']})"
        part = "-" if r["participation"] is None else f"{r['participation'] * 100:.2f}%"
        if r["target_rate"] is not None:
            part += f" (target {r['target_rate'] * 100:g}%)"
        cells = (
            name, r["symbol"], r["side"], f"{Decimal(r['filled']):,} of {Decimal(r['target']):,}", _price(r["avg_price"]),
            _price(r["arrival"]), _bps(r["vs_arrival_bps"]),
            "-" if r["interval_vwap"] is None else f"{r['interval_vwap']:,.4f}", _bps(r["vs_vwap_bps"]), part,
        )
        out.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    out.append('</table><p class="note">bps &gt; 0 is a cost: a buy above its benchmark, a sell below it. '
               "Arrival: the last close when the parent started; interval VWAP: the bars that opened from its "
               "first child to its last fill, at their typical price; participation: the quantity filled over "
               "those bars' volume.</p></div>")
    return "".join(out)


def write_html(result: BacktestResult, path: Path) -> None:
    """One self-contained HTML file (inline data, inline script, inline SVG)."""
    data = json.dumps(html_data(result)).replace("</", "<\\/")
    title = "Backtest: " + html.escape(", ".join(result.strategies)) + " on " + html.escape(", ".join(result.instruments))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    page = _PAGE.replace("__ALGOS__", algorithms_html(algorithms(result)))
    Path(path).write_text(page.replace("__TITLE__", title).replace("__DATA__", data), encoding="utf-8")


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;background:#fafafa;color:#222}
h1{font-size:20px} h2{font-size:16px;margin-top:28px}
.chart{background:#fff;border:1px solid #ddd;border-radius:6px;margin:8px 0;position:relative}
table{border-collapse:collapse;background:#fff;margin:8px 0} td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}
th{background:#f0f0f0} td:first-child,th:first-child{text-align:left}
#tip{position:fixed;pointer-events:none;background:#222;color:#fff;padding:4px 8px;border-radius:4px;font-size:12px;display:none}
select{font-size:14px} .note{color:#666;font-size:12px}
</style></head><body>
<h1>__TITLE__</h1>
<div id="metrics"></div>
<h2>Equity</h2><div class="chart" id="equity"></div>
<h2>Drawdown</h2><div class="chart" id="drawdown"></div>
<h2>Monthly returns</h2><div class="chart" id="monthly"></div>
<h2>Price and trades <select id="sym"></select></h2><div class="chart" id="price"></div>
<h2>Attribution</h2><div id="attr"></div>
<h2>P&amp;L by <select id="period"><option>day</option><option>week</option><option selected>month</option></select></h2><div id="periods"></div>
<h2>Execution quality</h2><div id="exec"></div>
__ALGOS__
<h2>Fill model and costs</h2><div id="costs"></div><div id="capacity"></div>
<h2>Fills</h2><div id="fills"></div>
<div id="tip"></div>
<script>
const D = __DATA__;
const NS = "http://www.w3.org/2000/svg";
const tip = document.getElementById("tip");
function el(tag, attrs, parent){const e=document.createElementNS(NS,tag);for(const k in attrs)e.setAttribute(k,attrs[k]);if(parent)parent.appendChild(e);return e;}
function day(t){return new Date(t*1000).toISOString().slice(0,10);}
function fmt(v){return v==null?"-":(typeof v==="number"?v.toLocaleString(undefined,{maximumFractionDigits:4}):v);}
function show(e,text){tip.style.display="block";tip.textContent=text;tip.style.left=(e.clientX+12)+"px";tip.style.top=(e.clientY+12)+"px";}
function hide(){tip.style.display="none";}
function line(id, xs, ys, color, label, markers){
  const box=document.getElementById(id); box.innerHTML="";
  const W=box.clientWidth||900, H=260, L=70, R=10, T=10, B=24;
  const svg=el("svg",{width:W,height:H},box);
  if(!xs.length)return;
  let x0=xs[0],x1=xs[xs.length-1]; if(x1===x0)x1=x0+1;
  let y0=Math.min(...ys),y1=Math.max(...ys); if(markers)for(const m of markers){y0=Math.min(y0,m.p);y1=Math.max(y1,m.p);} if(y1===y0){y1+=1;y0-=1;}
  const sx=t=>L+(t-x0)/(x1-x0)*(W-L-R), sy=v=>T+(1-(v-y0)/(y1-y0))*(H-T-B);
  for(let i=0;i<=4;i++){const v=y0+(y1-y0)*i/4;el("line",{x1:L,x2:W-R,y1:sy(v),y2:sy(v),stroke:"#eee"},svg);
    const t=el("text",{x:L-6,y:sy(v)+4,"text-anchor":"end","font-size":11,fill:"#666"},svg);t.textContent=fmt(+v.toPrecision(6));}
  for(let i=0;i<=5;i++){const t=x0+(x1-x0)*i/5;const s=el("text",{x:sx(t),y:H-6,"text-anchor":"middle","font-size":11,fill:"#666"},svg);s.textContent=day(t);}
  let d="";for(let i=0;i<xs.length;i++)d+=(i?"L":"M")+sx(xs[i]).toFixed(1)+","+sy(ys[i]).toFixed(1);
  el("path",{d:d,fill:"none",stroke:color,"stroke-width":1.5},svg);
  if(markers)for(const m of markers){const up=m.side==="buy";const x=sx(m.t),y=sy(m.p);
    const p=el("path",{d:up?`M${x},${y-1}l-5,9h10z`:`M${x},${y+1}l-5,-9h10z`,fill:up?"#1a7f37":"#cf222e"},svg);
    p.addEventListener("mousemove",e=>show(e,`${m.side} ${m.q} @ ${m.p} on ${day(m.t)}`));p.addEventListener("mouseleave",hide);}
  const cross=el("line",{y1:T,y2:H-B,stroke:"#999","stroke-dasharray":"3,3",visibility:"hidden"},svg);
  svg.addEventListener("mousemove",e=>{const r=svg.getBoundingClientRect();const t=x0+(e.clientX-r.left-L)/(W-L-R)*(x1-x0);
    let lo=0,hi=xs.length-1;while(lo<hi){const m=(lo+hi)>>1;if(xs[m]<t)lo=m+1;else hi=m;}
    cross.setAttribute("x1",sx(xs[lo]));cross.setAttribute("x2",sx(xs[lo]));cross.setAttribute("visibility","visible");
    if(e.target.tagName!=="path"||!markers)show(e,`${day(xs[lo])}  ${label} ${fmt(ys[lo])}`);});
  svg.addEventListener("mouseleave",()=>{hide();cross.setAttribute("visibility","hidden");});
}
function heatmap(){
  const box=document.getElementById("monthly"); const months=Object.keys(D.monthly); if(!months.length)return;
  const years=[...new Set(months.map(m=>m.slice(0,4)))]; const W=Math.max(700,box.clientWidth||900), cw=(W-60)/12, ch=22;
  const svg=el("svg",{width:W,height:years.length*ch+30},box);
  const vals=Object.values(D.monthly), a=Math.max(1e-9,...vals.map(Math.abs));
  "JFMAMJJASOND".split("").forEach((m,i)=>{const t=el("text",{x:60+i*cw+cw/2,y:14,"text-anchor":"middle","font-size":11},svg);t.textContent=m;});
  years.forEach((y,r)=>{const t=el("text",{x:4,y:36+r*ch,"font-size":11},svg);t.textContent=y;
    for(let i=0;i<12;i++){const k=`${y}-${String(i+1).padStart(2,"0")}`;if(!(k in D.monthly))continue;const v=D.monthly[k];const s=Math.min(1,Math.abs(v)/a);
      const c=v>=0?`rgba(26,127,55,${0.15+0.85*s})`:`rgba(207,34,46,${0.15+0.85*s})`;
      const rc=el("rect",{x:60+i*cw+1,y:20+r*ch+1,width:cw-2,height:ch-2,fill:c},svg);
      rc.addEventListener("mousemove",e=>show(e,`${k}: ${(v*100).toFixed(2)}%`));rc.addEventListener("mouseleave",hide);}});
}
function table(id, head, rows){let h="<table><tr>"+head.map(x=>`<th>${x}</th>`).join("")+"</tr>";
  for(const r of rows)h+="<tr>"+r.map(x=>`<td>${fmt(x)}</td>`).join("")+"</tr>";document.getElementById(id).innerHTML=h+"</table>";}
const pct=new Set(["total_return","annual_return","annual_volatility","max_drawdown","var_95","cvar_95","win_rate","exposure","benchmark_return"]);
table("metrics",["figure","value"],Object.entries(D.metrics).map(([k,v])=>[k,pct.has(k)&&v!=null?(v*100).toFixed(2)+"%":v]));
const attr=[];for(const k of ["symbol","strategy"])for(const [n,v] of Object.entries(D.attribution[k]))attr.push([k,n,v]);
table("attr",["by","name","P&L"],attr);
function periods(){const v=document.getElementById("period").value;const k=["day","week","month"].includes(v)?v:"month";
  const r=Object.entries(D.attribution[k]);
  table("periods",[k,"P&L"],r);}
document.getElementById("period").addEventListener("change",periods);periods();
const ex=[];for(const [n,v] of Object.entries(D.execution.by_symbol))ex.push([n,v.fills,v.vs_decision,v.vs_decision_bps,v.vs_arrival,v.vs_arrival_bps]);
table("exec",["symbol","fills","vs decision $","bps","vs arrival $","bps"],ex);
table("costs",["fill model","commission","spread","impact","total"],[[Object.values(D.fill_model).join("; "),D.costs.commission,D.costs.spread,D.costs.impact,D.costs.total]]);
if(D.capacity)table("capacity",["size","return","commission","spread","impact","total"],D.capacity.map(r=>[r.size+"x",(r.total_return*100).toFixed(2)+"%",r.commission,r.spread,r.impact,r.total]));
table("fills",["time","symbol","side","qty","price","commission","strategy"],D.fills.map(f=>[f.ts,f.symbol,f.side,f.qty,f.price,f.commission,f.strategy]));
function draw(){line("equity",D.equity.t,D.equity.v,"#0969da","equity");line("drawdown",D.equity.t,D.equity.dd.map(x=>x*100),"#cf222e","drawdown %");
  const s=document.getElementById("sym").value;const p=D.prices[s];if(p)line("price",p.t,p.c,"#555","close",p.fills);}
const sel=document.getElementById("sym");for(const s of Object.keys(D.prices)){const o=document.createElement("option");o.textContent=s;sel.appendChild(o);}
sel.addEventListener("change",draw);heatmap();draw();window.addEventListener("resize",draw);
</script></body></html>
"""


def model_figures(result: BacktestResult, folded: FillFigures) -> dict[str, Any]:
    """The fill model, the costs split (commission, spread, impact) and the capacity curve."""
    from workstation.research.figures import costs

    return {"fill_model": result.fill_model, "costs": costs(result, folded), "capacity": result.capacity}


def cost_tables(result: BacktestResult, folded: FillFigures) -> list[Any]:
    """The summary's costs table (and the capacity curve's, after --capacity)."""
    from rich.table import Table

    from workstation.research.figures import costs

    c = costs(result, folded)
    params = "; ".join(f"{k} {v}" for k, v in result.fill_model.items() if k != "name")
    ct = Table(title=f"Costs (fill model: {result.fill_model.get('name', 'next_open')})", title_justify="left",
               caption=params or None, caption_justify="left")
    for col in ("commission", "spread", "impact", "total"):
        ct.add_column(col, justify="right")
    ct.add_row(*(f"{c[k]:,.2f}" for k in ("commission", "spread", "impact", "total")))
    out: list[Any] = [ct]
    notes = [f"{c[k]:,} {label}" for k, label in (
        ("partial_fills", "partial fills (volume cap)"), ("no_volume_bars", "bars without volume (filled whole)"),
        ("outside_session_bars", "bars outside the session (nothing filled)"),
        ("impact_unestimated", "fills before the daily vol/volume were known (no impact)"),
        ("quoted_spread_fills", "fills at the quoted spread"),
        ("estimated_spread_fills", "fills at the spread estimated from bar ranges (no quote known)"),
        ("unquoted_fills", "fills with no quote known (no spread)"),
    ) if c.get(k)]
    if notes:
        from rich.text import Text

        out.append(Text("fill model: " + "; ".join(notes)))
    if result.capacity:
        cap = Table(title="Capacity (the same strategy at larger sizes)", title_justify="left")
        for col in ("size", "return", "commission", "spread", "impact", "total"):
            cap.add_column(col, justify="right")
        for r in result.capacity:
            cap.add_row(f"{r['size']}x", f"{r['total_return'] * 100:.2f}%",
                        *(f"{Decimal(r[k]):,.2f}" for k in ("commission", "spread", "impact", "total")))
        out.append(cap)
    return out

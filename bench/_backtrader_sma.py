"""backtrader's side of ``bench_backtest_cli.py``: the SMA crossover on a bar file, fills as JSON lines.

The rule ``main.py backtest --strategy ma_crossover --qty 100`` runs: buy 100 on a cross up of
SMA(fast) over SMA(slow) when flat, close the position on a cross down; orders fill at the next
bar's open (backtrader's default broker), cash 1,000,000, no commission. The file is in the
generic layout (``timestamp,open,high,low,close,volume``, ISO timestamps ending in ``Z``) and is
read with ``GenericCSVData``, as a backtrader user would.

Each fill is one line on stdout: ``{"bar": i, "side": "buy"|"sell", "cents": price in cents}``
(``bar`` counts the file's rows from 0); a last line gives the final value. ``--cents``: the
file's prices are whole cents already.

    .venv/bin/python bench/_backtrader_sma.py FILE [--fast 10] [--slow 30] [--qty 100] [--cash 1000000] [--cents]
"""

from __future__ import annotations

import argparse
import json
import sys

import backtrader as bt


class SmaCross(bt.Strategy):
    params = (("fast", 10), ("slow", 30), ("qty", 100), ("to_cents", 100))

    def __init__(self) -> None:
        fast = bt.indicators.SMA(self.data.close, period=self.p.fast)
        slow = bt.indicators.SMA(self.data.close, period=self.p.slow)
        self.cross = bt.indicators.CrossOver(fast, slow)
        self.out = sys.stdout

    def next(self) -> None:
        if not self.position and self.cross[0] > 0:
            self.buy(size=self.p.qty)
        elif self.position and self.cross[0] < 0:
            self.close()

    def notify_order(self, order: bt.Order) -> None:
        if order.status == order.Completed:
            # called on the bar that filled it, before that bar's next(): its index is len - 1
            side = "buy" if order.isbuy() else "sell"
            cents = round(order.executed.price * self.p.to_cents)
            self.out.write(f'{{"bar": {len(self.data) - 1}, "side": "{side}", "cents": {cents}}}\n')


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--fast", type=int, default=10)
    ap.add_argument("--slow", type=int, default=30)
    ap.add_argument("--qty", type=int, default=100)
    ap.add_argument("--cash", type=float, default=1_000_000.0)
    ap.add_argument("--cents", action="store_true", help="the prices are in cents")
    args = ap.parse_args()
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.GenericCSVData(
        dataname=args.file, dtformat="%Y-%m-%dT%H:%M:%SZ", timeframe=bt.TimeFrame.Minutes,
        datetime=0, open=1, high=2, low=3, close=4, volume=5, openinterest=-1,
    ))
    cerebro.addstrategy(SmaCross, fast=args.fast, slow=args.slow, qty=args.qty, to_cents=1 if args.cents else 100)
    cerebro.broker.setcash(args.cash)
    cerebro.run()
    print(json.dumps({"final_value": round(cerebro.broker.getvalue(), 2)}))


if __name__ == "__main__":
    main()

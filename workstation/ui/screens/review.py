"""The order review: everything about an order and the engine's verdict, before it is sent.

Enter or ``y`` sends (when the pre-trade checks pass); ``n``, Ctrl+G or Escape cancel.
The screen dismisses with True (send) or False.

A combo (a spread) is reviewed as one order: each leg as the order trades it (side,
quantity, contract, its quote), the net debit or credit, max profit, max loss, the
break-evens and the net Greeks (``Review.combo``, from ``workstation.trading.payoff``).
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from workstation.core import formatting as fmt
from workstation.core.model import IntentError, ModelError, OrderRequest, OrderType, Side, plain
from workstation.trading.oms import Review
from workstation.trading.combo_figures import ComboFigures


class ReviewScreen(ModalScreen[bool]):
    DEFAULT_CSS = """
    ReviewScreen { align: center middle; }
    ReviewScreen > Vertical { width: 64; max-width: 100%; height: auto; max-height: 100%; border: thick $primary; background: $surface; padding: 0 1; }
    ReviewScreen.-combo > Vertical { width: 78; }
    ReviewScreen #review-body { height: auto; }
    ReviewScreen #review-keys { color: $text-muted; height: auto; }
    """

    BINDINGS = [
        Binding("enter,y", "send", "Send", id="review.send"),
        Binding("n,ctrl+g,escape", "back", "Cancel", id="review.cancel"),
    ]

    def __init__(self, request: OrderRequest, review: Review, *, buy_style: str, sell_style: str, note: str = "") -> None:
        super().__init__()
        self.request = request
        self.review = review
        self.buy_style, self.sell_style = buy_style, sell_style
        self.note = note

    def compose(self) -> ComposeResult:
        r = self.review
        req = self.request
        if req.legs and r.combo is not None:
            self.add_class("-combo")
            yield from self._compose_combo(r, r.combo)
            return
        side_style = self.buy_style if r.side is Side.BUY else self.sell_style
        table = Table.grid(padding=(0, 2))
        table.add_column(style="dim")
        table.add_column()
        title = Text()
        title.append(f" {r.side.value.upper()} ", side_style + " reverse bold")
        title.append(f" {fmt.quantity(r.qty)} {r.symbol}", "bold")
        table.add_row("Order", title)
        kind = r.type.value.replace("_", "-")
        if r.type is OrderType.TRAILING_STOP:
            kind += f" {plain(req.trail_percent)}%" if req.trail_percent is not None else f" {plain(req.trail_amount)}"
        table.add_row("Type", f"{kind} · {r.tif.value}" + (" · extended hours" if r.extended else ""))
        if r.session_note:  # extended hours, or an order that waits for the regular session
            table.add_row("Session", r.session_note)
        digits = self._digits(r.symbol)
        if r.limit_price is not None:
            table.add_row("Limit", fmt.price(r.limit_price, digits))
        if r.stop_price is not None:
            table.add_row("Stop", fmt.price(r.stop_price, digits))
        if req.take_profit is not None:
            table.add_row("Bracket", f"take-profit {fmt.price(req.take_profit, digits)} · stop-loss {fmt.price(req.stop_loss, digits)}")
        table.add_row("Est. price", fmt.price(r.price, digits))
        table.add_row("Notional", fmt.money(r.notional))
        table.add_row("Commission", fmt.money(r.commission))
        if r.margin is not None:  # a future: the money it ties up, not its notional
            table.add_row("Initial margin", fmt.money(r.margin))
        table.add_row("Buying power after", Text(fmt.money(r.buying_power_after), "red" if r.buying_power_after < 0 else ""))
        yield from self._verdict_and_keys(table, r, "Review order")

    def _compose_combo(self, r: Review, c: ComboFigures) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="dim")
        table.add_column()
        title = Text()
        title.append(f" {r.side.value.upper()} ", (self.buy_style if r.side is Side.BUY else self.sell_style) + " reverse bold")
        title.append(f" {fmt.quantity(r.qty)} {c.description}", "bold")
        table.add_row("Spread", title)
        table.add_row("Type", f"{r.type.value.replace('_', '-')} · {r.tif.value}")
        for i, leg in enumerate(c.legs):
            line = Text()
            line.append(f"{leg.side.value.upper():<4} ", self.buy_style if leg.side is Side.BUY else self.sell_style)
            line.append(f"{fmt.quantity(leg.qty)} {leg.symbol}")
            if leg.bid is not None and leg.ask is not None:
                line.append(f"  {leg.bid:.2f} × {leg.ask:.2f}", "dim")
            table.add_row("Legs" if i == 0 else "", line)
        if c.net_price is not None and c.cash is not None:
            kind = "debit" if c.cash > 0 else "credit" if c.cash < 0 else "even"
            net = f"{fmt.price(abs(c.net_price), 2)} {kind} · {fmt.money(abs(c.cash))} {'paid' if c.cash > 0 else 'received'}"
            if req_mid := c.net_mid:
                net += f" · mid {fmt.price(req_mid, 2)}"
            table.add_row("Net", net)
        if c.payoff == "none":
            table.add_row("Payoff", Text(c.note or "not known", "yellow"))
        else:
            est = " (est.)" if c.payoff == "estimated" else ""
            table.add_row("Max profit", Text("unlimited" if c.max_profit is None else fmt.money(c.max_profit) + est, "green"))
            table.add_row("Max loss", Text("unlimited" if c.max_loss is None else fmt.money(c.max_loss) + est, "red"))
            if c.breakevens:
                table.add_row("Break-even", " · ".join(fmt.price(b, 2) for b in c.breakevens) + est)
            if c.note:
                table.add_row("", Text(c.note, "dim"))
        if c.delta is not None:
            table.add_row("Greeks", f"Δ {c.delta:+.1f} sh · Γ {c.gamma:+.2f} · Θ {c.theta:+.2f}/day · V {c.vega:+.2f}/pt")
        table.add_row("Commission", fmt.money(r.commission))
        table.add_row("Buying power after", Text(fmt.money(r.buying_power_after), "red" if r.buying_power_after < 0 else ""))
        yield from self._verdict_and_keys(table, r, "Review spread")

    def _verdict_and_keys(self, table: Table, r: Review, title: str) -> ComposeResult:
        """The rows every review ends with (the risk verdict, warnings, a note) and its keys."""
        if r.ok:
            verdict = Text("passes the pre-trade checks", "bold green")
        else:
            verdict = Text(f"blocked by {r.rule}: {r.reason}", "bold red")
        table.add_row("Risk", verdict)
        for w in r.warnings:
            table.add_row("Warning", Text(w, "yellow"))
        if self.note:
            table.add_row("Note", self.note)
        keys = "Enter/y send · n/Ctrl+G cancel" if r.ok else "n/Ctrl+G/Enter close (nothing sent)"
        with Vertical(id="review-box") as box:
            box.border_title = title
            yield Static(table, id="review-body")
            yield Static(keys, id="review-keys")

    def _digits(self, symbol: str) -> int | None:
        """The symbol's tick digits, from the app's instruments (None: the price's own decimals)."""
        instrument = getattr(self.app, "instrument", None)
        if instrument is None:
            return None
        try:
            return fmt.tick_digits(instrument(symbol).tick_size)
        except (IntentError, ModelError):
            return None

    def action_send(self) -> None:
        self.dismiss(self.review.ok)

    def action_back(self) -> None:
        self.dismiss(False)

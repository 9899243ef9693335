"""A ticket for legs: build a combo order (a spread) leg by leg from the keyboard (``:legs``).

The leg line takes one leg at a time, as the command line writes them: ``+AAPL-2026-12-18-200-C``
buys one, ``-2 AAPL-2026-12-18-210-C`` sells two (for one unit of the combo bought). Enter on
it adds the leg; Enter with it empty (or on the side, quantity or net price) checks the whole
combo and dismisses with its ``OrderRequest``, which the app reviews like any order. Ctrl+R
removes the last leg; Tab moves between fields; Escape or Ctrl+G closes without a trade.
Every problem is one line under the fields, and the legs stay as typed.
"""

from __future__ import annotations

from decimal import Decimal

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from workstation.core.model import Leg, ModelError, OrderRequest, OrderType, Side, TimeInForce, to_decimal
from workstation.trading.spreads import MAX_LEGS, custom, parse_leg, recognize

KEYS = "Enter add leg (empty: review) · Ctrl+R drop last · Tab next · Esc close"


class LegsScreen(ModalScreen[OrderRequest | None]):
    DEFAULT_CSS = """
    LegsScreen { align: center middle; }
    LegsScreen > Vertical { width: 76; max-width: 100%; height: auto; max-height: 100%; border: thick $primary; background: $surface; padding: 0 1; }
    LegsScreen Horizontal { height: 1; }
    LegsScreen Label { width: auto; padding: 0 1 0 0; color: $text-muted; }
    LegsScreen Input { width: 1fr; }
    LegsScreen #legs-side { width: 7; }
    LegsScreen #legs-qty { width: 7; }
    LegsScreen #legs-net { width: 12; }
    LegsScreen #legs-list { height: auto; min-height: 1; }
    LegsScreen #legs-kind { color: $text-muted; height: auto; }
    LegsScreen #legs-error { color: $error; height: auto; display: none; }
    LegsScreen #legs-error.-open { display: block; }
    LegsScreen #legs-keys { color: $text-muted; height: auto; }
    """

    BINDINGS = [
        Binding("escape,ctrl+g", "close", "Close", id="legs.close"),
        Binding("ctrl+r", "remove_last", "Remove leg", id="legs.remove_last", tooltip="Remove the last leg"),
    ]

    def __init__(self, *, buy_style: str = "green", sell_style: str = "red") -> None:
        super().__init__()
        self.legs: list[Leg] = []
        self.buy_style, self.sell_style = buy_style, sell_style

    def compose(self) -> ComposeResult:
        with Vertical(id="legs-box") as box:
            box.border_title = "Legs: one combo order"
            with Horizontal():
                yield Label("Side")
                yield Input("buy", id="legs-side", compact=True, select_on_focus=True)
                yield Label(" Qty")
                yield Input("1", id="legs-qty", compact=True, select_on_focus=True)
                yield Label(" Net")
                yield Input("", id="legs-net", compact=True, placeholder="market", select_on_focus=True)
                yield Label(" TIF")
                yield Input("day", id="legs-tif", compact=True, select_on_focus=True)
            yield Static(Text("no legs yet", "dim"), id="legs-list")
            with Horizontal():
                yield Label("Leg ")
                yield Input("", id="legs-leg", compact=True, placeholder="+AAPL-2026-12-18-200-C or -2 AAPL-2026-12-18-210-C")
            yield Static("", id="legs-kind")
            yield Static("", id="legs-error")
            yield Static(KEYS, id="legs-keys")

    def on_mount(self) -> None:
        self.query_one("#legs-leg", Input).focus()

    # ------------------------------------------------------------------ legs
    def error(self, text: str) -> None:
        err = self.query_one("#legs-error", Static)
        err.update(text)
        err.set_class(bool(text), "-open")

    def _show(self) -> None:
        text = Text()
        for i, leg in enumerate(self.legs):
            if i:
                text.append("\n")
            text.append(f"{i + 1}. ", "dim")
            text.append(f"{leg.side.value.upper():<4}", self.buy_style if leg.side is Side.BUY else self.sell_style)
            text.append(f" {leg.ratio} {leg.symbol}")
        self.query_one("#legs-list", Static).update(text if self.legs else Text("no legs yet", "dim"))
        kind = ""
        if len(self.legs) >= 2:
            spread = recognize(self.legs)
            kind = spread.describe() if spread.kind != "legs" else f"custom combo of {len(self.legs)} legs"
        self.query_one("#legs-kind", Static).update(kind)

    def add_leg(self, text: str) -> bool:
        """Add the leg written in ``text``; False (and one line) when it is malformed."""
        if len(self.legs) >= MAX_LEGS:
            self.error(f"a combo takes at most {MAX_LEGS} legs")
            return False
        try:
            leg = parse_leg(text)
            legs = custom([*self.legs, leg]).legs if self.legs else (leg,)
        except ModelError as exc:
            self.error(str(exc))
            return False
        self.legs = list(legs)
        self.error("")
        self._show()
        return True

    def action_remove_last(self) -> None:
        if self.legs:
            self.legs.pop()
            self.error("")
            self._show()

    # ------------------------------------------------------------------ the combo
    def request(self) -> OrderRequest:
        """The combo as an OrderRequest; ModelError naming the first problem."""
        side_text = self.query_one("#legs-side", Input).value.strip().lower()
        sides = [s for s in (Side.BUY, Side.SELL) if s.value.startswith(side_text)] if side_text else []
        if len(sides) != 1:
            raise ModelError(f"side must be buy or sell, got {side_text!r}")
        qty_text = self.query_one("#legs-qty", Input).value.strip()
        qty = to_decimal(qty_text, "quantity")
        if qty <= 0 or qty != qty.to_integral_value():
            raise ModelError(f"a combo is ordered in whole units (1, 2, ...), got {qty_text}")
        net_text = self.query_one("#legs-net", Input).value.strip()
        net: Decimal | None = to_decimal(net_text, "net price") if net_text else None
        tif_text = self.query_one("#legs-tif", Input).value.strip().lower()
        tifs = [t for t in TimeInForce if t.value.startswith(tif_text)] if tif_text else []
        if len(tifs) != 1:
            raise ModelError(f"time in force must be day, gtc, ioc or fok, got {tif_text!r}")
        if len(self.legs) < 2:
            raise ModelError("a combo takes 2 to 4 legs: add another")
        spread = custom(self.legs)
        return OrderRequest(
            symbol=spread.underlying, side=sides[0], qty=qty, type=OrderType.LIMIT if net is not None else OrderType.MARKET,
            limit_price=net, tif=tifs[0], legs=spread.legs, source="ui",
        )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "legs-leg" and event.value.strip():
            if self.add_leg(event.value):
                event.input.value = ""
            return
        if not self.legs:
            self.error("no legs yet: type one (+AAPL-2026-12-18-200-C) and Enter")
            return
        try:
            request = self.request()
        except ModelError as exc:
            self.error(str(exc))
            return
        except ArithmeticError:
            self.error("a number here is out of range")
            return
        self.dismiss(request)

    def action_close(self) -> None:
        self.dismiss(None)

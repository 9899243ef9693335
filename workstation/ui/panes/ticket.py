"""The order ticket: side, quantity, symbol, type, prices and time in force.

Up/down step the field under the cursor: the quantity by the lot, prices by the tick.
Side, type and time in force are choice fields: they take no text, only their choices
(space/right/up the next, left/down the previous, a letter the next one starting with it).
The time in force ``ext`` is a DAY order in extended hours: it may fill pre- and post-market
(a limit order only; the review says "extended hours").
Enter checks every field (an inline line names the first problem) and posts
``Ticket.Review`` with the request; the app shows the review and sends. In modify mode
(``m`` on an order) Enter posts ``Ticket.Replace``. The symbol follows the watchlist
cursor, and a new symbol resets the limit and stop to its own last price (on its tick).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Input, Label, Static

from workstation.core.model import Instrument, ModelError, Order, OrderRequest, OrderType, Side, TimeInForce, plain, to_decimal
from workstation.core.symbols import parse_symbol

CHOICES = {
    "side": ["buy", "sell"],
    "type": ["market", "limit", "stop", "stop-limit"],
    "tif": ["day", "gtc", "ioc", "fok", "ext"],  # ext: DAY, extended hours (may fill pre- and post-market)
}
HINT = "↑↓ step · Enter review · Ctrl+G back"
CHOICE_HINT = "←→ space or a letter · Ctrl+G back"
TYPES = {"market": OrderType.MARKET, "limit": OrderType.LIMIT, "stop": OrderType.STOP, "stop-limit": OrderType.STOP_LIMIT}


class TicketField(Input):
    """One ticket value; up/down step it."""

    BINDINGS = [
        Binding("up", "step(1)", "Step", id="ticket.step_up", tooltip="Step the field up (a lot, a tick, the next choice)"),
        Binding("down", "step(-1)", "Step", id="ticket.step_down", tooltip="Step the field down"),
        Binding("ctrl+g", "leave", "Leave", id="ticket.leave", tooltip="Back to the pane the ticket was opened from"),
    ]

    def action_leave(self) -> None:
        ticket = next((a for a in self.ancestors if isinstance(a, TicketPane)), None)
        if ticket is not None:
            ticket.post_message(TicketPane.Leave())

    def __init__(self, field: str, value: str = "") -> None:
        super().__init__(value=value, id=f"ticket-{field}", compact=True, select_on_focus=True)
        self.field = field

    def action_step(self, direction: int) -> None:
        ticket = next((a for a in self.ancestors if isinstance(a, TicketPane)), None)
        if ticket is not None:
            ticket.step(self.field, direction)


class ChoiceField(Widget, can_focus=True):
    """One of a fixed set of choices (side, type, time in force): it cycles, it takes no text."""

    BINDINGS = [
        Binding("space,right,up", "cycle(1)", "Next", id="ticket.choice_next", tooltip="Choice fields (side, type, TIF): the next choice"),
        Binding("left,down", "cycle(-1)", "Previous", id="ticket.choice_prev", tooltip="Choice fields: the previous choice (a letter picks the next one starting with it)"),
        Binding("enter", "submit", "Review", show=False, id="ticket.choice_submit", tooltip="Review the order"),
        Binding("ctrl+g", "leave", "Leave", show=False, id="ticket.choice_leave", tooltip="Back to the pane the ticket was opened from"),
    ]
    DEFAULT_CSS = """
    ChoiceField { height: 1; width: 1fr; }
    ChoiceField:disabled { color: $text-disabled; }
    """

    value: reactive[str] = reactive("", init=False)
    """The current choice, always one of ``choices``."""

    def __init__(self, field: str, value: str) -> None:
        super().__init__(id=f"ticket-{field}")
        self.field = field
        self.choices = CHOICES[field]
        self.set_reactive(ChoiceField.value, value)

    def validate_value(self, value: str) -> str:
        value = value.strip().lower()
        return value if value in self.choices else self.value

    def render(self) -> Text:
        text = Text(self.value)
        if self.has_focus:  # the other choices where they fit, else only the arrows
            others = "  ◂ " + " · ".join(c for c in self.choices if c != self.value) + " ▸"
            text.append(others if len(self.value) + len(others) <= self.size.width else "  ◂▸", style="dim")
        return text

    def _on_focus(self, event: events.Focus) -> None:
        self.refresh()

    def _on_blur(self, event: events.Blur) -> None:
        self.refresh()

    def _ticket(self) -> TicketPane | None:
        return next((a for a in self.ancestors if isinstance(a, TicketPane)), None)

    def action_cycle(self, direction: int) -> None:
        ticket = self._ticket()
        if ticket is not None:
            ticket.step(self.field, direction)

    def action_submit(self) -> None:
        ticket = self._ticket()
        if ticket is not None:
            ticket.submit()

    def action_leave(self) -> None:
        ticket = self._ticket()
        if ticket is not None:
            ticket.post_message(TicketPane.Leave())

    def on_key(self, event: events.Key) -> None:
        """A letter picks the next choice starting with it; any other character is refused."""
        char = event.character
        if not char or not char.isprintable() or event.key in ("space",):
            return
        event.stop()
        event.prevent_default()
        letter = char.lower()
        matches = [c for c in self.choices if c.startswith(letter)]
        ticket = self._ticket()
        if not matches or ticket is None:
            self.app.bell()
            return
        after = matches[(matches.index(self.value) + 1) % len(matches)] if self.value in matches else matches[0]
        ticket.set_value(self.field, after)


class TicketPane(Vertical, can_focus=False):
    DEFAULT_CSS = """
    TicketPane { height: 1fr; }
    TicketPane .row { height: 1; }
    TicketPane .row Label { width: 8; color: $text-muted; }
    TicketPane .row TicketField, TicketPane .row ChoiceField { width: 1fr; }
    TicketPane .row:focus-within Label { text-style: bold reverse; }
    TicketPane TicketField:focus, TicketPane ChoiceField:focus { background: $primary 30%; text-style: bold; }
    TicketPane #ticket-error { color: $error; height: auto; }
    TicketPane #ticket-hint { color: $text-muted; height: 1; }
    TicketPane.-buy #ticket-side { color: $success; text-style: bold; }
    TicketPane.-sell #ticket-side { color: $error; text-style: bold; }
    """

    class Review(Message):
        """The ticket is filled in: review (and maybe send) this request."""

        def __init__(self, request: OrderRequest) -> None:
            super().__init__()
            self.request = request

    class Leave(Message):
        """Ctrl+G in a field: go back to where the ticket was opened from."""

    class Replace(Message):
        """Modify a working order: new quantity and prices."""

        def __init__(self, order: Order, qty: Decimal, limit_price: Decimal | None, stop_price: Decimal | None) -> None:
            super().__init__()
            self.order, self.qty, self.limit_price, self.stop_price = order, qty, limit_price, stop_price

    FIELDS = (("side", "Side"), ("qty", "Qty"), ("symbol", "Symbol"), ("type", "Type"), ("limit", "Limit"), ("stop", "Stop"), ("tif", "TIF"))

    def __init__(self, instrument: Callable[[str], Instrument], last_price: Callable[[str], float | None], *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._instrument = instrument
        self._last = last_price
        self.modifying: Order | None = None
        self._priced_for = ""  # the symbol the limit and stop were set for

    def compose(self) -> ComposeResult:
        defaults = {"side": "buy", "qty": "100", "symbol": "", "type": "market", "limit": "", "stop": "", "tif": "day"}
        for key, label in self.FIELDS:
            with Horizontal(classes="row"):
                yield Label(label)
                yield ChoiceField(key, defaults[key]) if key in CHOICES else TicketField(key, defaults[key])
        yield Static("", id="ticket-error")
        yield Static(HINT, id="ticket-hint")

    def on_mount(self) -> None:
        self.set_class(True, "-buy")

    # ------------------------------------------------------------------ values
    def field(self, key: str) -> TicketField | ChoiceField:
        return self.query_one(f"#ticket-{key}", ChoiceField if key in CHOICES else TicketField)

    def value(self, key: str) -> str:
        return self.field(key).value.strip()

    def set_value(self, key: str, value: str) -> None:
        self.field(key).value = value
        if key == "side":
            self.set_class(value == "buy", "-buy")
            self.set_class(value == "sell", "-sell")

    def error(self, text: str) -> None:
        self.query_one("#ticket-error", Static).update(text)

    def prefill(self, side: str, symbol: str, price: float | None) -> None:
        """Side, symbol and the last price as the limit (a limit order)."""
        self.modifying = None
        self.border_subtitle = ""
        self._enable_all(True)
        self.set_value("side", side)
        self.set_value("symbol", symbol)
        if price is not None:
            inst = self._instrument(symbol)
            self.set_value("type", "limit")
            self.set_value("limit", plain(inst.round_price(to_decimal(price))) or "")
        self.set_value("stop", "")
        self._priced_for = symbol
        self.error("")

    def follow(self, symbol: str) -> None:
        """The watchlist cursor moved: its symbol, with the limit and stop reset for it."""
        if symbol == self.value("symbol"):
            return
        self.set_value("symbol", symbol)
        self.reprice()

    def reprice(self) -> None:
        """Limit and stop at the symbol's last price on its tick (where the type has them), else empty."""
        symbol = self.value("symbol")
        self._priced_for = symbol
        price = ""
        try:
            last = self._last(symbol) if symbol else None
            if last is not None:
                price = plain(self._instrument(symbol).round_price(to_decimal(last))) or ""
        except ModelError:
            price = ""
        kind = self.value("type")
        self.set_value("limit", price if kind in ("limit", "stop-limit") else "")
        self.set_value("stop", price if kind in ("stop", "stop-limit") else "")

    def on_input_blurred(self, event: Input.Blurred) -> None:
        """A symbol typed into the ticket gets prices of its own once the field is left."""
        if isinstance(event.input, TicketField) and event.input.field == "symbol" and self.modifying is None:
            if self.value("symbol") != self._priced_for:
                self.reprice()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        self.query_one("#ticket-hint", Static).update(CHOICE_HINT if isinstance(event.widget, ChoiceField) else HINT)

    def load_order(self, order: Order) -> None:
        """Modify mode: the order's values; side, symbol, type and TIF are fixed."""
        self.modifying = order
        self.border_subtitle = f"modify #{order.id}"
        self.set_value("side", order.side.value)
        self.set_value("qty", plain(order.qty) or "")
        self.set_value("symbol", order.symbol)
        self.set_value("type", order.type.value.replace("_", "-") if order.type in TYPES.values() else "market")
        self.set_value("limit", plain(order.limit_price) or "")
        self.set_value("stop", plain(order.stop_price) or "")
        self.set_value("tif", "ext" if order.extended else order.tif.value)
        self._priced_for = order.symbol
        self._enable_all(False)
        self.error("")

    def _enable_all(self, enabled: bool) -> None:
        for key in ("side", "symbol", "type", "tif"):
            self.field(key).disabled = not enabled

    def first_field(self) -> TicketField:
        """The field to start typing in: the limit of a prefilled limit order, else the quantity."""
        key = "qty" if self.modifying else ("limit" if self.value("type") in ("limit", "stop-limit") else "qty")
        return self.query_one(f"#ticket-{key}", TicketField)

    # ------------------------------------------------------------------ stepping
    def step(self, key: str, direction: int) -> None:
        if key in CHOICES:
            options = CHOICES[key]
            current = self.value(key).lower()
            i = options.index(current) if current in options else -1
            self.set_value(key, options[(i + direction) % len(options)])
            return
        if key == "symbol":
            return
        try:
            inst = self._instrument(self.value("symbol")) if self.value("symbol") else parse_symbol("X")
        except ModelError:
            return
        unit = inst.lot_size if key == "qty" else inst.tick_size
        text = self.value(key)
        try:
            current = to_decimal(text) if text else None
        except ModelError:
            return
        if current is None:
            last = self._last(inst.symbol) if key != "qty" else None
            current = inst.round_price(to_decimal(last)) if last else unit
            new = current
        else:
            ticks = current / unit
            if ticks == ticks.to_integral_value():
                new = current + unit * direction
            else:  # off the grid: snap to it in the direction of the step
                new = ticks.to_integral_value(rounding=ROUND_CEILING if direction > 0 else ROUND_FLOOR) * unit
        if new <= 0:
            new = unit
        self.set_value(key, plain(new) or "")
        self.error("")

    # ------------------------------------------------------------------ submit
    def build(self) -> OrderRequest:
        """The request the ticket describes; ModelError naming the first bad field."""
        side = self.value("side").lower()
        if side not in ("buy", "sell"):
            raise ModelError(f"side must be buy or sell, got {side!r}")
        symbol = self.value("symbol")
        if not symbol:
            raise ModelError("symbol is empty")
        inst = self._instrument(symbol)
        qty = inst.check_qty(self.value("qty"))
        otype = TYPES.get(self.value("type").lower())
        if otype is None:
            raise ModelError(f"type must be one of {', '.join(TYPES)}, got {self.value('type')!r}")
        limit = stop = None
        if otype in (OrderType.LIMIT, OrderType.STOP_LIMIT):
            if not self.value("limit"):
                raise ModelError(f"a {self.value('type')} order needs a limit price")
            limit = inst.check_price(self.value("limit"), "limit price")
        if otype in (OrderType.STOP, OrderType.STOP_LIMIT):
            if not self.value("stop"):
                raise ModelError(f"a {self.value('type')} order needs a stop price")
            stop = inst.check_price(self.value("stop"), "stop price")
        extended = self.value("tif").lower() == "ext"
        try:
            tif = TimeInForce.DAY if extended else TimeInForce(self.value("tif").lower())
        except ValueError:
            raise ModelError(f"time in force must be day, gtc, ioc, fok or ext, got {self.value('tif')!r}") from None
        return OrderRequest(symbol=inst.symbol, side=Side(side), qty=qty, type=otype, limit_price=limit, stop_price=stop, tif=tif,
                            source="ticket", extended=extended)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.submit()

    def submit(self) -> None:
        try:
            request = self.build()
        except ModelError as exc:
            self.error(str(exc))
            return
        self.error("")
        if self.modifying is not None:
            self.post_message(self.Replace(self.modifying, request.qty, request.limit_price, request.stop_price))
            return
        self.post_message(self.Review(request))

    def finish_modify(self) -> None:
        self.modifying = None
        self.border_subtitle = ""
        self._enable_all(True)

"""The header line: profile and mode (PAPER/LIVE), connection, market session (pre, open, post,
closed), equity, day P&L, clock."""

from __future__ import annotations

from datetime import datetime, timezone

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from workstation.api import AccountSnapshot, EngineInfo
from workstation.core import formatting as fmt
from workstation.core.model import ConnectionState


# the main venue's session as the header says it (pre- and post-market, the regular session)
_SESSION_WORDS = {"pre": "pre", "regular": "open", "post": "post", "closed": "closed"}


class HeaderBar(Widget):
    """One line, repainted only when its text changes (never a layout pass: it ticks)."""

    DEFAULT_CSS = """
    HeaderBar { height: 1; background: $panel; }
    HeaderBar.-live { background: #5f0000; color: #ffffff; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._text = Text()

    def render(self) -> Text:
        return self._text

    def show(
        self, info: EngineInfo, snap: AccountSnapshot | None, conn: ConnectionState | None, now: float, styles: dict[str, Style],
        width: int, *, unread: int = 0,
    ) -> None:
        self.set_class(info.live, "-live")  # live money: the whole bar turns red
        t = Text(no_wrap=True, overflow="crop")
        mode = " LIVE " if info.live else " PAPER "
        t.append(mode, styles["live_badge" if info.live else "paper_badge"])
        t.append(f" {info.profile}", Style(bold=True))
        state = conn.state if conn else "connecting"
        ok = state == "connected"
        t.append("  ● " if ok else "  ○ ", styles["up" if ok else "down"])
        t.append(f"{info.broker} {state}" if width >= 100 else state)
        if snap is not None:
            word = _SESSION_WORDS.get(snap.market_session or "")
            if word is None and snap.market_open is not None:
                word = "open" if snap.market_open else "closed"
            if word is not None:
                t.append("  market ", styles["muted"])
                t.append(word, styles["up"] if word == "open" else styles["stale"] if word == "closed" else Style(bold=True))
            t.append("  Eq ", styles["muted"])
            t.append(fmt.money(snap.account.equity))
            pnl = snap.day_pnl
            t.append("  Day ", styles["muted"])
            t.append(fmt.signed_money(pnl), styles[fmt.pnl_role(pnl) or "muted"])
            if width >= 120:
                t.append("  BP ", styles["muted"])
                t.append(fmt.money(snap.account.buying_power))
        if unread:
            t.append(f"  ⚑ {unread} unread", styles["stale"])
        clock = datetime.fromtimestamp(now, tz=timezone.utc).strftime("%H:%M:%S UTC")
        pad = max(1, width - t.cell_len - len(clock) - 1)
        if t.cell_len + len(clock) + 2 <= width:
            t.append(" " * pad)
            t.append(clock, styles["muted"])
        if t.plain != self._text.plain or t.spans != self._text.spans:
            self._text = t
            self.refresh()


class HaltBanner(Widget):
    """A red line under the header while the circuit breaker is tripped or trading is halted."""

    DEFAULT_CSS = """
    HaltBanner { height: 1; display: none; background: #af0000; color: #ffffff; text-style: bold; }
    HaltBanner.-on { display: block; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.text = ""
        self._parts: list[tuple[str, str, str]] = []

    def render(self) -> Text:
        """Each part as "LABEL: reason · way out"; the reason is shortened, never the way out."""
        width = max(20, self.size.width or 80)
        share = width // max(1, len(self._parts))
        out = Text(no_wrap=True, overflow="ellipsis")
        for label, reason, hint in self._parts:
            room = share - len(label) - len(hint) - 7
            if len(reason) > room:
                reason = reason[: max(0, room - 1)] + "…" if room > 1 else ""
            out.append(f" {label}: {reason}" + (f" · {hint}" if hint else "") + " ")
        return out

    def show(self, snap: AccountSnapshot | None) -> None:
        parts: list[tuple[str, str, str]] = []
        if snap is not None and snap.breaker is not None:
            parts.append(("BREAKER TRIPPED", snap.breaker, "reset: R in Risk"))
        if snap is not None and snap.trading_halted:
            parts.append(("TRADING HALTED", "only orders that reduce a position are accepted", ""))
        text = " | ".join(f"{label}: {reason}" for label, reason, _ in parts)
        if text != self.text:
            self.text = text
            self._parts = parts
            self.set_class(bool(text), "-on")
            self.refresh()

"""An extended-hours order keeps its mark over the socket: a face's submit and review carry
``extended`` to the owning engine."""

from decimal import Decimal

from workstation.core.model import OrderRequest, OrderType, Side
from workstation.serve import protocol


def test_submit_and_review_carry_extended():
    req = OrderRequest(symbol="AAPL", side=Side.BUY, qty=Decimal(10), type=OrderType.LIMIT,
                       limit_price=Decimal("150"), extended=True)
    enc = protocol.encoder()
    for msg in (protocol.Submit(id=1, request=req), protocol.Review(id=2, request=req)):
        back = protocol.client_decoder(protocol.line(enc, msg))
        assert back.request.extended is True and back.request == req

"""Outbox topics the pharmacy handles (autodiscovered, see docs/decisions.md «Outbox»)."""

from llo import outbox
from warehouse.documents import STOCK_ARRIVED_TOPIC

from .deferrals import deferrals_serve_arrivals


@outbox.handler(STOCK_ARRIVED_TOPIC)
def stock_arrived(message) -> dict:
    """Packs arrived at a point (a receipt, a shipment received): serve the deferred prescriptions
    waiting for them. Payload: {"place_id": int, "package_ids": [int, ...]}. Idempotent."""
    payload = message.payload
    reserved = deferrals_serve_arrivals(place_id=int(payload["place_id"]),
                                        package_ids=[int(pk) for pk in payload["package_ids"]])
    return {"reserved": reserved}

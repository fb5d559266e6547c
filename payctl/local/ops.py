"""What the local stack's pollers borrow from the operator tools: handing a batch back to its queue."""

from payctl.operator.queues import make_visible

__all__ = ["make_visible"]

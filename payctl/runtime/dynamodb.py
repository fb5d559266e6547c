"""Shim 13 — make moto's DynamoDB safe and linear under the local stack's concurrency.

Gaps (moto 5.2.5):

- The backend is not thread-safe; shim 18 (``locking.py``) makes every request atomic, and the
  transaction below runs under that same lock.
- ``transact_write_items`` deep-copies every table it touches before writing, to restore it if a
  condition fails. That is O(table size) per transaction: the audit writer's row-plus-counter
  transaction slows down with every row ever written (0.5 payments/s after a few hundred), and a
  restore would also drop writes other threads made meanwhile. Here a transaction checks every
  condition first and writes only when all hold; if applying a write still fails (an invalid
  update expression), only the items it touched are restored.
- (A speed-up, switched with the others.) ``Table.query`` starts from ``all_items()``, which
  lists and *sorts* every item of the table, even for a query on the table's own partition
  key; the results are sorted again afterwards. That is O(N log N) DynamoType comparisons per
  query, so the fraud velocity query and the audit reads slowed down with every payment. Here a
  table query starts from the partition's own items, and an index query from the few items its
  page can hold, found in a sorted view of the index (``dynamodb_indexes.py``).
- (A speed-up, switched with the others.) Every ``UpdateItem``, and every ``Update`` in a
  transaction, parses its update expression again (``UpdateExpressionParser.make``, twice per
  request: once to validate the request, once to apply it), and the validator then
  ``deepcopy``-s the tree before rewriting it. The services send a handful of distinct
  expressions over and over. Here the tree of each expression text is kept pickled and every call
  gets a fresh copy from ``pickle.loads`` (about 30 us instead of a 130-170 us parse for the
  services' expressions); the validator copies expression trees by a pickle round trip (about
  70 us instead of ``deepcopy``'s 130-180 us), which copies these plain node objects faithfully.
  Attribute values keep moto's own ``deepcopy``.
- (A speed-up, switched with the others.) moto's response serializer walks every attribute value
  member by member against the service model, trying each of ``AttributeValue``'s ten members
  through its alias lookups: about 2 ms per returned item, which made a 1,600-item dashboards'
  page take seconds. An attribute value moto returns is already its own JSON form (``to_json``),
  so a value of strings, numbers, booleans, nulls, sets of those, lists and maps is passed through
  as it is; binary values (base64-encoded by the serializer) still take moto's path.
"""

from __future__ import annotations

import copy
import functools
import inspect
import pickle
from typing import Any

from payctl.runtime import dynamodb_indexes
from payctl.runtime._patching import Patcher
from payctl.runtime.dynamodb_indexes import IndexViews
from payctl.runtime.locking import MOTO_LOCK

GAP = "moto DynamoDB is not thread-safe and transact_write_items copies whole tables"

_OPERATIONS = frozenset({"ConditionCheck", "Put", "Delete", "Update"})


def _key_of(backend: Any, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        return dict(op["Key"])
    table = backend.get_table(op["TableName"])
    attrs = op["Item"]
    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attrs[table.range_key_attr]
    return key


def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    """All-or-nothing like DynamoDB: every condition is checked before anything is written."""
    from moto.dynamodb.exceptions import TooManyTransactionsException

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    with MOTO_LOCK:
        planned = _planned(self, transact_items)
        _check_conditions(self, planned)
        _apply(self, planned)


# (operation type, operation, the item's key) for each item of a transaction.
_Planned = list[tuple[str, dict[str, Any], dict[str, Any]]]


def _planned(self: Any, transact_items: list[dict[str, Any]]) -> _Planned:
    """The transaction's operations with their keys; one operation per item, one item per operation."""
    from moto.dynamodb.exceptions import MultipleTransactionsException, TransactWriteSingleOpException

    planned: _Planned = []
    seen: set[tuple[str, str]] = set()
    for item in transact_items:
        if len(item) > 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(item.items()))
        if op_type not in _OPERATIONS:
            raise ValueError("Unsupported transaction operation")
        key = _key_of(self, op_type, op)
        marker = (str(op["TableName"]), str(dict(sorted(key.items()))))
        if marker in seen:
            raise MultipleTransactionsException()
        seen.add(marker)
        planned.append((op_type, op, key))
    return planned


def _check_conditions(self: Any, planned: _Planned) -> None:
    """Every condition against the items as they stand, before any write: one failure cancels all."""
    from moto.dynamodb.comparisons import get_filter_expression as condition_of
    from moto.dynamodb.exceptions import TransactionCanceledException

    reasons: list[tuple[str | None, str | None, dict[str, Any] | None]] = []
    for _op_type, op, key in planned:
        current = self.get_item(op["TableName"], key)
        expression = op.get("ConditionExpression")
        if expression is not None and not condition_of(
            expression, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        ).expr(current):
            old = None
            if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                old = current.to_json()["Attributes"]
            reasons.append(("ConditionalCheckFailed", "The conditional request failed", old))
        else:
            reasons.append((None, None, None))
    if any(code is not None for code, _, _ in reasons):
        raise TransactionCanceledException(reasons)


def _apply(self: Any, planned: _Planned) -> None:
    """The writes, in order; a failure puts back the items this transaction touched, and only them."""
    touched: list[tuple[str, dict[str, Any], Any]] = []
    try:
        for op_type, op, key in planned:
            table_name = op["TableName"]
            if op_type == "ConditionCheck":
                continue
            touched.append((table_name, key, copy.deepcopy(self.get_item(table_name, key))))
            if op_type == "Put":
                self.put_item(table_name, op["Item"])
            elif op_type == "Delete":
                self.delete_item(table_name, key)
            else:
                self.update_item(
                    table_name,
                    key,
                    update_expression=op["UpdateExpression"],
                    expression_attribute_names=op.get("ExpressionAttributeNames"),
                    expression_attribute_values=op.get("ExpressionAttributeValues"),
                )
    except Exception:
        for table_name, key, before in reversed(touched):
            if before is None:
                self.delete_item(table_name, key)
            else:
                self.put_item(table_name, before.to_json()["Attributes"])
        raise


def _unsorted_items(table: Any) -> list[Any]:
    if table.range_key_attr:
        return [item for partition in table.items.values() for item in partition.values()]
    return list(table.items.values())


def _partition_items(table: Any, hash_key: Any) -> list[Any]:
    partition = table.items.get(hash_key)
    if partition is None:
        return []
    return list(partition.values()) if table.range_key_attr else [partition]


def _query_from_candidates(views: IndexViews, original: Any) -> Any:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        arguments = bound.arguments
        with MOTO_LOCK:
            if arguments.get("index_name"):
                candidates = views.candidates(self, arguments)
                if candidates is None:
                    candidates = _unsorted_items(self)
            else:
                candidates = _partition_items(self, arguments.get("hash_key"))
            # moto's query only iterates all_items() to find candidates and sorts them itself.
            self.all_items = lambda: candidates
            try:
                return original(self, *args, **kwargs)
            finally:
                del self.all_items

    return query


_EXPRESSION_CACHE_SIZE = 1024


def _pickled_copy(value: Any) -> Any:
    return pickle.loads(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))


def tree_copy(value: Any) -> Any:
    """``deepcopy`` for the validator: expression trees by pickle, anything else by ``deepcopy``."""
    from moto.dynamodb.parsing.ast_nodes import Node  # type: ignore[attr-defined]  # the module opts out of typing

    if isinstance(value, Node):
        return _pickled_copy(value)
    return copy.deepcopy(value)


def cached_update_expression_parser(original_make: Any) -> Any:
    """``UpdateExpressionParser.make`` that parses each expression text once (errors are not kept)."""

    @functools.lru_cache(maxsize=_EXPRESSION_CACHE_SIZE)
    def pickled_tree(expression: str) -> bytes:
        return pickle.dumps(original_make(expression), pickle.HIGHEST_PROTOCOL)

    def make(cls: Any, expression_str: str) -> Any:
        return pickle.loads(pickled_tree(expression_str))

    make.cache_info = pickled_tree.cache_info  # type: ignore[attr-defined]
    return classmethod(make)


_PLAIN_SCALARS = {"S": str, "N": str, "BOOL": bool, "NULL": bool}
_PLAIN_SETS = frozenset({"SS", "NS"})


def is_plain_attribute_value(value: Any) -> bool:
    """True for an attribute value whose JSON form is itself: no binary anywhere inside it."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    ((kind, inner),) = value.items()
    if kind in _PLAIN_SCALARS:
        return isinstance(inner, _PLAIN_SCALARS[kind])
    if kind in _PLAIN_SETS:
        return isinstance(inner, list) and all(isinstance(member, str) for member in inner)
    if kind == "L":
        return isinstance(inner, list) and all(is_plain_attribute_value(member) for member in inner)
    if kind == "M":
        return isinstance(inner, dict) and all(
            isinstance(name, str) and is_plain_attribute_value(member) for name, member in inner.items()
        )
    return False


def _attribute_values_as_they_are(original: Any) -> Any:
    @functools.wraps(original)
    def serialize_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if key and shape.name == "AttributeValue" and is_plain_attribute_value(value):
            self._default_serialize(serialized, value, shape, key)
            return
        original(self, serialized, value, shape, key)

    return serialize_structure


def install(patcher: Patcher) -> None:
    from moto.dynamodb.models import DynamoDBBackend

    patcher.setattr(DynamoDBBackend, "transact_write_items", transact_write_items, gap=GAP)


def install_speedups(patcher: Patcher) -> None:
    """The query and expression changes are speed only (same answers), so they switch with the others."""
    from moto.core.serialize import BaseJSONSerializer
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]

    views = dynamodb_indexes.install(patcher)
    patcher.wrap(Table, "query", functools.partial(_query_from_candidates, views), gap=GAP)
    patcher.setattr(
        UpdateExpressionParser,
        "make",
        cached_update_expression_parser(UpdateExpressionParser.make),
        gap=GAP,
    )
    if validators.deepcopy is not copy.deepcopy:
        raise RuntimeError("moto's DynamoDB validators no longer copy with copy.deepcopy; re-check this shim")
    patcher.setattr(validators, "deepcopy", tree_copy, gap=GAP)
    patcher.wrap(BaseJSONSerializer, "_serialize_type_structure", _attribute_values_as_they_are, gap=GAP)

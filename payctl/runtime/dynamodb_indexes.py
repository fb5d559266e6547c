"""A speed-up of shim 13: a query on a global secondary index costs O(limit), not O(table).

moto 5.2.5 answers a query on an index by walking every item of the table, keeping the ones whose
index key matches, sorting them (DynamoType comparisons) and only then skipping to the exclusive
start key and cutting at ``Limit``. The dashboards' ``GET /audit`` queries sixteen day shards of the
audit table's ``by_day_shard`` index with a small ``Limit``; with 100,000 rows stored, one page took
seconds, and a page further on took longer.

Here each queried index keeps a view: its items grouped by partition, each partition kept sorted in
the order moto sorts a query's results (index sort key, then the table's keys). Every write moto
makes to a table goes through ``Table.put_item``, ``Table.delete_item`` or, for an in-place update,
``DynamoDBBackend.update_item`` (transactions, batches and PartiQL call these), so those three keep
the views current; ``update_table`` drops a table's views, since its indexes may have changed.
A table's views are built on its first write or query, so a table the stack created empty never
pays for a build.

A query then hands moto only the items it can return: found by bisection from the exclusive start
key or the key condition's near bound, up to ``Limit`` + 1 matching items, so that moto's own code
still filters, orders, pages and projects them, and sets ``LastEvaluatedKey`` as it would have.
Anything the view does not cover (several key attributes, the legacy ``QueryFilter``) takes moto's
path unchanged.
"""

from __future__ import annotations

import bisect
import functools
import weakref
from collections.abc import Iterator
from typing import Any

from payctl.runtime._patching import Patcher

GAP = "moto answers a query on an index by sorting every item of the table"

_LOWER_BOUND = frozenset({"=", "EQ", ">=", "GE", ">", "GT", "BETWEEN", "BEGINS_WITH"})
_UPPER_BOUND = frozenset({"=", "EQ", "<=", "LE", "<", "LT", "BETWEEN"})

Entry = tuple[tuple[Any, ...], Any]

# DynamoDB's item size quota, which moto enforces on every write.
_LARGEST_ITEM = 400 * 1024


def _order(entry: Entry) -> tuple[Any, ...]:
    return entry[0]


def _sort_value(entry: Entry) -> Any:
    return entry[0][0]


class IndexView:
    """One index's items by partition, each partition sorted as moto sorts that index's query results.

    Sort keys are the attributes' cast values, which is what ``DynamoType`` itself compares.
    """

    def __init__(self, table: Any, index: Any) -> None:
        self.hash_attr: str = _key_names(index, "HASH")[0]
        ranges = _key_names(index, "RANGE")
        self.range_attr: str | None = ranges[0] if ranges else None
        # moto's order within a partition: the index sort key (for an index without one, the
        # table's sort key, else its partition key), then the table's own keys.
        first = self.range_attr or table.range_key_attr or table.hash_key_attr
        self.sort_attrs = [
            attr for attr in (first, table.hash_key_attr, table.range_key_attr) if attr is not None
        ]
        self.partitions: dict[Any, list[Entry]] = {}
        self._placed: dict[int, tuple[Any, tuple[Any, ...]]] = {}
        for item in _every_item(table):
            slot = self._slot_of(item)
            if slot is not None:
                self.partitions.setdefault(slot[0], []).append((slot[1], item))
                self._placed[id(item)] = slot
        for entries in self.partitions.values():
            entries.sort(key=_order)

    @staticmethod
    def covers(index: Any) -> bool:
        return len(_key_names(index, "HASH")) == 1 and len(_key_names(index, "RANGE")) <= 1

    def place(self, item: Any) -> None:
        """Add ``item``, or move it if an update changed its index key."""
        slot = self._slot_of(item)
        if self._placed.get(id(item)) == slot:
            return
        self.remove(item)
        if slot is not None:
            bisect.insort(self.partitions.setdefault(slot[0], []), (slot[1], item), key=_order)
            self._placed[id(item)] = slot

    def remove(self, item: Any) -> None:
        slot = self._placed.pop(id(item), None)
        if slot is None:
            return
        partition, key = slot
        entries = self.partitions[partition]
        position = bisect.bisect_left(entries, key, key=_order)
        while entries[position][1] is not item:
            position += 1
        del entries[position]
        if not entries:
            del self.partitions[partition]

    def _slot_of(self, item: Any) -> tuple[Any, tuple[Any, ...]] | None:
        attrs = item.attrs
        # DynamoDB indexes only the items that carry every key attribute of the index.
        if self.hash_attr not in attrs or any(attr not in attrs for attr in self.sort_attrs):
            return None
        return attrs[self.hash_attr], tuple(attrs[attr].cast_value for attr in self.sort_attrs)

    def window(self, query: dict[str, Any]) -> list[Any] | None:
        """The items ``query`` can return, in its order: from its start, up to ``Limit`` + 1 matches."""
        comparison = (query["range_comparison"] or "").upper() or None
        if comparison and self.range_attr is None:
            return None  # moto's own path raises the error for this query
        entries = self.partitions.get(query["hash_key_conditions"][0][1], [])
        forward = query["scan_index_forward"] is not False
        start = self._start(entries, forward, comparison, query["range_objs"], query["exclusive_start_key"])
        if start is None:
            return None
        return list(
            self._matches(
                entries, start, forward, query["range_comparison"], query["range_objs"], query["limit"]
            )
        )

    def _start(
        self,
        entries: list[Entry],
        forward: bool,
        comparison: str | None,
        bounds: list[Any],
        start_key: dict[str, Any] | None,
    ) -> int | None:
        from moto.dynamodb.models.dynamo_type import DynamoType

        if start_key:
            if any(attr not in start_key for attr in self.sort_attrs):
                return None
            after = tuple(DynamoType(start_key[attr]).cast_value for attr in self.sort_attrs)
            if forward:
                return bisect.bisect_right(entries, after, key=_order)
            return bisect.bisect_left(entries, after, key=_order) - 1
        if forward and comparison in _LOWER_BOUND:
            return bisect.bisect_left(entries, bounds[0].cast_value, key=_sort_value)
        if not forward and comparison in _UPPER_BOUND:
            return bisect.bisect_right(entries, bounds[-1].cast_value, key=_sort_value) - 1
        return 0 if forward else len(entries) - 1

    def _matches(
        self,
        entries: list[Entry],
        position: int,
        forward: bool,
        comparison: str | None,
        bounds: list[Any],
        limit: int | None,
    ) -> Iterator[Any]:
        """The items moto's loop would look at: the matches, and the item at which it would stop.

        moto sets ``LastEvaluatedKey`` on the first item it meets, matching or not, once the page
        holds ``Limit`` items or that item would take the page past 1 MB.
        """
        from moto.dynamodb.models.table import RESULT_SIZE_LIMIT

        step = 1 if forward else -1
        found = size = 0
        while 0 <= position < len(entries):
            item = entries[position][1]
            position += step
            if found == limit or size + item.size() > RESULT_SIZE_LIMIT:
                yield item
                return
            if comparison and not item.attrs[self.range_attr].compare(comparison, bounds):
                if not found:
                    continue
                # The key condition's run of the sorted partition has ended; only an item too
                # big for what is left of the page would still stop moto.
                if size + _LARGEST_ITEM > RESULT_SIZE_LIMIT:
                    yield item
                    rest = entries[position:] if forward else reversed(entries[: position + 1])
                    yield from (entry[1] for entry in rest)
                return
            found += 1
            size += item.size()
            yield item


def _key_names(index: Any, key_type: str) -> list[str]:
    return [key["AttributeName"] for key in index.schema if key["KeyType"] == key_type]


def _every_item(table: Any) -> Iterator[Any]:
    if table.range_key_attr:
        for partition in table.items.values():
            yield from partition.values()
    else:
        yield from table.items.values()


class IndexViews:
    """The views of every queried index, per table, kept current by the table's writes."""

    def __init__(self) -> None:
        # Per table: the item store the views were built from, and the views.
        self._by_table: weakref.WeakKeyDictionary[Any, tuple[Any, dict[str, IndexView]]] = (
            weakref.WeakKeyDictionary()
        )

    def candidates(self, table: Any, arguments: dict[str, Any]) -> list[Any] | None:
        """What an index query can return, or None where the view does not cover the query."""
        hash_conditions = arguments.get("hash_key_conditions") or []
        if len(hash_conditions) != 1 or arguments.get("filter_kwargs"):
            return None
        if len(arguments.get("range_key_conditions") or []) > 1:
            return None
        view = self._view(table, arguments["index_name"])
        if view is None or hash_conditions[0][0] != view.hash_attr:
            return None
        return view.window(arguments)

    def _view(self, table: Any, index_name: str) -> IndexView | None:
        return self._views(table).get(index_name)

    def of(self, table: Any) -> list[IndexView]:
        """Every covered index's view of ``table``, built on its first write or query."""
        return list(self._views(table).values())

    def _views(self, table: Any) -> dict[str, IndexView]:
        built = self._by_table.get(table)
        # A restored local state replaces a table's whole item store; its views start again.
        if built is None or built[0] is not table.items:
            views = {
                index.name: IndexView(table, index)
                for index in table.global_indexes or []
                if IndexView.covers(index)
            }
            built = self._by_table[table] = (table.items, views)
        return built[1]

    def forget(self, table: Any) -> None:
        self._by_table.pop(table, None)


def _key_values(table: Any, attrs: dict[str, Any]) -> tuple[Any, Any] | None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    try:
        hash_value = DynamoType(attrs[table.hash_key_attr])
        range_value = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
    except (KeyError, IndexError, TypeError, AttributeError):
        return None
    return hash_value, range_value


def _stored(table: Any, key: tuple[Any, Any] | None) -> Any:
    if key is None:
        return None
    hash_value, range_value = key
    if table.range_key_attr is None:
        return table.items.get(hash_value)
    return table.items.get(hash_value, {}).get(range_value)


def _kept_on_put(views: IndexViews, original: Any) -> Any:
    @functools.wraps(original)
    def put_item(self: Any, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        kept = views.of(self)
        if not kept:
            return original(self, item_attrs, *args, **kwargs)
        replaced = _stored(self, _key_values(self, item_attrs))
        item = original(self, item_attrs, *args, **kwargs)
        for view in kept:
            if replaced is not None:
                view.remove(replaced)
            view.place(item)
        return item

    return put_item


def _kept_on_delete(views: IndexViews, original: Any) -> Any:
    @functools.wraps(original)
    def delete_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        item = original(self, *args, **kwargs)
        if item is not None:
            for view in views.of(self):
                view.remove(item)
        return item

    return delete_item


def _kept_on_update(views: IndexViews, original: Any) -> Any:
    @functools.wraps(original)
    def update_item(self: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
        item = original(self, table_name, *args, **kwargs)
        # The update changed the stored item in place, so its index keys may have moved.
        for view in views.of(self.get_table(table_name)):
            view.place(item)
        return item

    return update_item


def _forgotten_on_update_table(views: IndexViews, original: Any) -> Any:
    @functools.wraps(original)
    def update_table(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        views.forget(self.get_table(name))
        return original(self, name, *args, **kwargs)

    return update_table


def install(patcher: Patcher) -> IndexViews:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    views = IndexViews()
    patcher.wrap(Table, "put_item", functools.partial(_kept_on_put, views), gap=GAP)
    patcher.wrap(Table, "delete_item", functools.partial(_kept_on_delete, views), gap=GAP)
    patcher.wrap(DynamoDBBackend, "update_item", functools.partial(_kept_on_update, views), gap=GAP)
    patcher.wrap(
        DynamoDBBackend, "update_table", functools.partial(_forgotten_on_update_table, views), gap=GAP
    )
    return views

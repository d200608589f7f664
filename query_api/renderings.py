"""Single-document bodies, rendered once per revision of the document.

Rendering a user with their orders (validating the stored document into the response model,
dumping it as JSON, digesting it for the `ETag`) took about a fifth of the query API's CPU per
`GET /users/{id}` (bench, issue 6), and gives the same bytes every time until the document
changes. The projector gives a document a new `revision` (the position of the event applied)
with every change it writes, and fences its writes by it: the collection, the `_id` and the
revision name one content. So a rendering is kept under those and reused, while the document
itself is still read on every request: a body is never older than the document it was read
with.

One rendering is kept per document, its latest revision's: a body rendered for a newer one
takes the place of the older. A rebuild writes its documents into collections of their own, so
their renderings are others'. Renderings of documents no longer read age out, oldest use
first, within a budget of bytes.
"""

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from query_api.conditional import Rendered, render
from query_api.schemas import DocumentOut

# Bodies kept, in bytes: a user of 10 orders renders to about 2 KB, an order to 330 bytes.
MAX_BYTES = 32 * 1024 * 1024
# What keeping one costs besides its body (its key, tag and entry), measured with tracemalloc.
ENTRY_BYTES = 600
_Key = tuple[type[DocumentOut], str, object]


@dataclass(frozen=True, slots=True)
class _Kept:
    revision: str
    rendered: Rendered

    @property
    def size(self) -> int:
        return len(self.rendered.body) + ENTRY_BYTES


class Renderings:
    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._kept: OrderedDict[_Key, _Kept] = OrderedDict()

    def of(self, model: type[DocumentOut], collection: str, raw: Mapping[str, Any]) -> Rendered:
        """The body of the stored document `raw`, read from `collection`, as `model`."""
        revision = raw.get("revision")
        if not isinstance(revision, str):  # not the projector's: nothing to tell its changes by
            return render(model.from_mongo(raw))
        key = (model, collection, raw["_id"])
        kept = self._kept.get(key)
        if kept is not None and kept.revision == revision:
            self._kept.move_to_end(key)
            return kept.rendered
        rendered = render(model.from_mongo(raw))
        self._keep(key, _Kept(revision, rendered))
        return rendered

    @property
    def size(self) -> int:
        """Bytes the renderings kept take, bodies and entries."""
        return self._bytes

    def _keep(self, key: _Key, kept: _Kept) -> None:
        older = self._kept.pop(key, None)
        if older is not None:
            self._bytes -= older.size
        if kept.size > self._max_bytes:
            return
        self._kept[key] = kept
        self._bytes += kept.size
        while self._bytes > self._max_bytes:
            _, oldest = self._kept.popitem(last=False)
            self._bytes -= oldest.size

"""Single-document bodies, rendered once per revision of the document.

Rendering a user with their orders (validating the stored document into the response model,
dumping it as JSON, digesting it for the `ETag`) took about a fifth of the query API's CPU per
`GET /users/{id}` (bench, issue 6), and gives the same bytes every time until the document
changes. The projector gives a document a new `revision` (the position of the event applied)
with every change it writes, and fences its writes by it: the collection, the `_id` and the
revision name one content. So a rendering is kept under those and reused, while the document
itself is still read on every request: a body is never older than the document it was read
with.

A rebuild writes its documents into collections of their own, so their renderings are
others'. Renderings of documents no longer read age out, oldest use first, within a budget of
bytes.
"""

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from query_api.conditional import Rendered, render
from query_api.schemas import DocumentOut

# Bodies kept, in bytes: a user of 10 orders renders to about 2 KB.
MAX_BYTES = 32 * 1024 * 1024
_Key = tuple[type[DocumentOut], str, object, str]


@dataclass
class _Kept:
    rendered: Rendered
    size: int


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
        key = (model, collection, raw["_id"], revision)
        kept = self._kept.get(key)
        if kept is not None:
            self._kept.move_to_end(key)
            return kept.rendered
        rendered = render(model.from_mongo(raw))
        self._keep(key, rendered)
        return rendered

    @property
    def size(self) -> int:
        """Bytes of the bodies kept."""
        return self._bytes

    def _keep(self, key: _Key, rendered: Rendered) -> None:
        size = len(rendered.body)
        if size > self._max_bytes:
            return
        self._kept[key] = _Kept(rendered, size)
        self._bytes += size
        while self._bytes > self._max_bytes:
            _, oldest = self._kept.popitem(last=False)
            self._bytes -= oldest.size

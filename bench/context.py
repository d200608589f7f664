"""What every scenario gets: the stores, the sizes, and where to put its figures."""

from dataclasses import dataclass

from bench.measure import Results
from bench.sizes import Sizes
from bench.stores import Stores


@dataclass(frozen=True)
class Context:
    stores: Stores
    sizes: Sizes
    results: Results

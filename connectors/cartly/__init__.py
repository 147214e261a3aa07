"""The Cartly connector: its API client and the contract's assumed values."""

from connectors.cartly.client import CartlyClient, iter_pages

__all__ = ["CartlyClient", "iter_pages"]

"""The merchant's pages, one module per part of the shop."""

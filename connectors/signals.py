"""Signals other apps listen to, so connectors need not know what depends on a connection."""

from django.dispatch import Signal

# Sent with `connection` when Cartly will no longer accept its tokens (recipes should pause).
connection_needs_reconnect = Signal()
# Sent with `connection` after a merchant disconnected it.
connection_disconnected = Signal()
# Sent with `connection` after a (re)connect stored fresh tokens: paused work may resume.
connection_connected = Signal()
# Sent with `connection` before its hooks are removed at Cartly: each receiver answers a
# `(callback tokens, remote ids)` pair of the hooks it registered for that connection. Another
# connection of the same shop (another user, same Cartly app) sees the same hooks at Cartly, so
# only these may be removed.
hooks_owned_by = Signal()

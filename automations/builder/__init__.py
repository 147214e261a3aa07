"""The recipe builder: pages and small JSON endpoints over automations.documents."""

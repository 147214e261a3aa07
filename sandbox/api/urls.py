"""The Apps API's paths (cartly-api.md, "Endpoints"), with or without a trailing slash.

Anything else under /apps/api/ is a JSON 404, never Django's HTML page.
"""

from django.urls import re_path

from sandbox.api import (
    views_catalog,
    views_customers,
    views_discounts,
    views_orders,
    views_shop,
    views_webhooks,
)
from sandbox.api.endpoint import unknown_path

ID = r"(?P<{}>[A-Za-z0-9_]{{1,64}})"

urlpatterns = [
    re_path(r"^me/?$", views_shop.me),
    re_path(r"^customers/?$", views_customers.customers),
    re_path(rf"^customers/{ID.format('customer_id')}/?$", views_customers.customer),
    re_path(r"^orders/?$", views_orders.orders),
    re_path(rf"^orders/{ID.format('order_id')}/?$", views_orders.order),
    re_path(r"^products/?$", views_catalog.products),
    re_path(rf"^inventory/{ID.format('variant_id')}/?$", views_catalog.inventory),
    re_path(r"^discounts/?$", views_discounts.discounts),
    re_path(r"^webhooks/?$", views_webhooks.webhooks),
    re_path(rf"^webhooks/{ID.format('webhook_id')}/?$", views_webhooks.webhook),
    re_path(r"", unknown_path),
]

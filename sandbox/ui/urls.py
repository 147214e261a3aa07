"""The merchant's shop UI (namespace "sandbox")."""

from django.contrib.auth import views as auth_views
from django.urls import path

from sandbox.ui.views import carts, customers, discounts, faults, home, orders, products, webhooks

app_name = "sandbox"
urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="sandbox/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", home.home, name="home"),
    path("orders/", orders.order_list, name="orders"),
    path("orders/<str:order_id>/status/", orders.order_status, name="order_status"),
    path("customers/", customers.customer_list, name="customers"),
    path("customers/<str:customer_id>/", customers.customer_edit, name="customer_edit"),
    path("products/", products.product_list, name="products"),
    path("products/<str:product_id>/", products.product_edit, name="product_edit"),
    path(
        "variants/<str:variant_id>/inventory/",
        products.variant_inventory,
        name="variant_inventory",
    ),
    path("carts/", carts.cart_list, name="carts"),
    path("carts/<str:cart_id>/check-out/", carts.cart_check_out, name="cart_check_out"),
    path("carts/<str:cart_id>/abandon/", carts.cart_abandon, name="cart_abandon"),
    path("discounts/", discounts.discount_list, name="discounts"),
    path("webhooks/", webhooks.webhook_list, name="webhooks"),
    path("webhooks/<str:webhook_id>/delete/", webhooks.webhook_delete, name="webhook_delete"),
    path("deliveries/", webhooks.delivery_list, name="deliveries"),
    path(
        "deliveries/<int:delivery_id>/redeliver/",
        webhooks.delivery_redeliver,
        name="delivery_redeliver",
    ),
    path("faults/", faults.faults, name="faults"),
]

"""The merchant's shop UI, driven through the Django test client."""

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sandbox import events
from sandbox import shop as shop_actions
from sandbox.models import (
    Cart,
    Customer,
    Delivery,
    DeliveryAttempt,
    Discount,
    Event,
    Order,
    Product,
    Shop,
    Webhook,
)


@pytest.fixture
def browser(client, merchant, shop):
    client.force_login(merchant)
    return client


@pytest.fixture
def outsider_order(db, variant):
    """An order in someone else's shop, with its own product."""
    other = User.objects.create_user("outsider")
    their_shop = Shop.objects.create(owner=other, name="Other", domain="other.mycartly.pro")
    their_product = shop_actions.create_product(
        their_shop, {"title": "Their Mug"}, [{"sku": "X-1", "price": "5.00", "available": 3}]
    )
    return shop_actions.place_order(
        their_shop, "b@example.com", [(their_product.variants.get(), 1)]
    )


@pytest.fixture
def webhook(shop, app):
    return Webhook.objects.create(
        shop=shop, application=app, url="http://127.0.0.1:9999/hook/", events=["order.created"]
    )


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def topics(shop) -> list[str]:
    return list(
        Event.objects.filter(shop=shop).order_by("created_at").values_list("topic", flat=True)
    )


# --- access ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "home",
        "orders",
        "customers",
        "products",
        "carts",
        "discounts",
        "webhooks",
        "deliveries",
        "faults",
    ],
)
def test_it_requires_login(client, db, name):
    response = client.get(reverse(f"sandbox:{name}"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("sandbox:login"))


def test_it_answers_a_user_without_a_shop_with_a_readable_page(client, db):
    client.force_login(User.objects.create_user("shopless"))
    response = client.get(reverse("sandbox:orders"))
    assert response.status_code == 403
    assert b"No shop yet" in response.content


def test_it_hides_another_merchants_order(browser, outsider_order):
    url = reverse("sandbox:order_status", args=[outsider_order.id])
    response = browser.post(url, {"status": "paid"})
    assert response.status_code == 404
    outsider_order.refresh_from_db()
    assert outsider_order.status == Order.Status.PENDING


def test_it_hides_another_merchants_customer_page(browser, outsider_order):
    response = browser.get(reverse("sandbox:customer_edit", args=[outsider_order.customer_id]))
    assert response.status_code == 404


def test_it_checks_csrf_on_forms(merchant, shop, variant):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(merchant)
    response = strict.post(reverse("sandbox:orders"), {"email": "a@example.com"})
    assert response.status_code == 403
    assert not Order.objects.exists()


# --- home ------------------------------------------------------------------------------------


def test_it_shows_the_shop_and_its_latest_events_with_delivery_status(
    browser, shop, variant, webhook
):
    shop_actions.place_order(shop, "buyer@example.com", [(variant, 1)])
    Delivery.objects.filter(event__shop=shop).update(status=Delivery.Status.DELIVERED)
    response = browser.get(reverse("sandbox:home"))
    page = response.content.decode()
    assert "Test Shop" in page and "test.mycartly.pro" in page and "USD" in page
    event = Event.objects.get(topic="order.created")
    assert event.id in page
    assert "delivered 1" in page
    assert "no subscriber" in page  # customer.created: nobody listens


# --- orders ----------------------------------------------------------------------------------


def test_it_places_an_order_from_the_form(browser, shop, variant):
    response = browser.post(
        reverse("sandbox:orders"),
        {"email": "Buyer@Example.com", "variant": variant.id, "quantity": 2},
        follow=True,
    )
    order = Order.objects.get(shop=shop)
    assert order.email == "buyer@example.com"
    assert order.line_items[0]["quantity"] == 2
    assert "Order #1001 placed" in texts(response)
    assert topics(shop) == [
        "product.created",
        "customer.created",
        "order.created",
        "inventory_level.updated",
        "product.updated",
    ]
    assert b"buyer@example.com" in response.content


def test_it_shows_field_errors_when_the_order_form_is_wrong(browser, shop, variant):
    response = browser.post(
        reverse("sandbox:orders"), {"email": "nope", "variant": variant.id, "quantity": 0}
    )
    assert response.status_code == 200
    assert "Please correct the fields marked below." in texts(response)
    assert b"Enter a valid email address." in response.content
    assert not Order.objects.exists()


def test_it_refuses_a_variant_of_another_shop(browser, shop, outsider_order):
    their_variant_id = outsider_order.line_items[0]["variant_id"]
    response = browser.post(
        reverse("sandbox:orders"),
        {"email": "a@example.com", "variant": their_variant_id, "quantity": 1},
    )
    assert response.status_code == 200
    assert not Order.objects.filter(shop=shop).exists()


def test_it_shows_only_the_allowed_status_buttons(browser, shop, variant):
    order = shop_actions.place_order(shop, "a@example.com", [(variant, 1)])
    url = reverse("sandbox:order_status", args=[order.id])
    page = browser.get(reverse("sandbox:orders")).content.decode()
    assert f'aria-label="Pay order #{order.number}"' in page
    assert f'aria-label="Fulfil order #{order.number}"' not in page
    assert page.count(url) == 2  # Pay and Cancel


def test_it_pays_and_fulfils_an_order(browser, shop, variant):
    order = shop_actions.place_order(shop, "a@example.com", [(variant, 1)])
    url = reverse("sandbox:order_status", args=[order.id])
    browser.post(url, {"status": "paid"})
    response = browser.post(url, {"status": "fulfilled"}, follow=True)
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED and order.fulfilled_at
    assert "Order #1001 is now fulfilled" in texts(response)
    assert topics(shop)[-3:] == ["order.updated", "order.updated", "order.fulfilled"]


def test_it_refuses_an_illegal_status_move_and_changes_nothing(browser, shop, variant):
    order = shop_actions.place_order(shop, "a@example.com", [(variant, 1)])
    shop_actions.update_order(order, status="paid")
    shop_actions.update_order(order, status="fulfilled")
    before = Event.objects.count()
    response = browser.post(
        reverse("sandbox:order_status", args=[order.id]), {"status": "canceled"}, follow=True
    )
    assert "Cannot change from fulfilled to canceled (order #1001)" in texts(response)
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED and order.canceled_at is None
    assert Event.objects.count() == before


def test_it_allows_status_changes_only_by_post(browser, shop, variant):
    order = shop_actions.place_order(shop, "a@example.com", [(variant, 1)])
    response = browser.get(reverse("sandbox:order_status", args=[order.id]))
    assert response.status_code == 405


# --- customers -------------------------------------------------------------------------------


def test_it_registers_a_customer_from_the_form(browser, shop):
    response = browser.post(
        reverse("sandbox:customers"),
        {
            "email": "ann@example.com",
            "first_name": "Ann",
            "last_name": "Lee",
            "phone": "+1 555",
            "accepts_marketing": "on",
        },
        follow=True,
    )
    customer = Customer.objects.get(shop=shop)
    assert (customer.first_name, customer.phone, customer.accepts_marketing) == (
        "Ann",
        "+1 555",
        True,
    )
    assert topics(shop) == ["customer.created"]
    assert "Customer ann@example.com registered" in texts(response)
    assert b"ann@example.com" in response.content


def test_it_refuses_a_taken_email_next_to_the_field(browser, shop):
    shop_actions.create_customer(shop, {"email": "ann@example.com"})
    response = browser.post(reverse("sandbox:customers"), {"email": "ANN@example.com"})
    assert response.status_code == 200
    assert "Email already taken" in texts(response)
    assert b"Already taken" in response.content
    assert Customer.objects.count() == 1


def test_it_edits_a_customer(browser, shop):
    customer = shop_actions.create_customer(shop, {"email": "ann@example.com"})
    url = reverse("sandbox:customer_edit", args=[customer.id])
    assert b'value="ann@example.com"' in browser.get(url).content
    response = browser.post(
        url, {"email": "ann@example.com", "first_name": "Annie", "note": "VIP"}, follow=True
    )
    customer.refresh_from_db()
    assert (customer.first_name, customer.note) == ("Annie", "VIP")
    assert "Customer ann@example.com saved" in texts(response)


# --- products --------------------------------------------------------------------------------


def test_it_adds_a_product_with_its_default_variant(browser, shop):
    response = browser.post(
        reverse("sandbox:products"),
        {
            "title": "Tea Pot",
            "vendor": "Acme",
            "status": "draft",
            "price": "30.00",
            "sku": "POT-1",
            "available": 4,
        },
        follow=True,
    )
    product = Product.objects.get(shop=shop, title="Tea Pot")
    variant = product.variants.get()
    assert (product.status, variant.sku, str(variant.price), variant.available) == (
        "draft",
        "POT-1",
        "30.00",
        4,
    )
    assert topics(shop) == ["product.created"]
    assert "Product “Tea Pot” added" in texts(response)
    assert b"POT-1" in response.content


def test_it_names_the_forms_label_when_the_shop_refuses_a_field(browser, shop):
    data = {"title": "Huge", "status": "active", "price": "1.00", "available": 2**40}
    response = browser.post(reverse("sandbox:products"), data)
    assert response.status_code == 200
    assert any(t.startswith("Stock must be") for t in texts(response))
    assert not Product.objects.filter(title="Huge").exists()


def test_it_edits_a_product_and_fires_product_updated(browser, shop, product):
    response = browser.post(
        reverse("sandbox:product_edit", args=[product.id]),
        {"title": "Big Mug", "vendor": "Acme", "status": "archived", "description": "Holds more"},
        follow=True,
    )
    product.refresh_from_db()
    assert (product.title, product.status, product.description) == (
        "Big Mug",
        "archived",
        "Holds more",
    )
    assert topics(shop)[-1] == "product.updated"
    assert "Product “Big Mug” saved" in texts(response)


@pytest.mark.parametrize("mode, amount, expected", [("adjustment", -3, 7), ("available", 25, 25)])
def test_it_changes_a_variants_stock(browser, variant, mode, amount, expected):
    response = browser.post(
        reverse("sandbox:variant_inventory", args=[variant.id]),
        {"mode": mode, "amount": amount},
        follow=True,
    )
    variant.refresh_from_db()
    assert variant.available == expected
    assert f"Stock of MUG-1 is now {expected}" in texts(response)


def test_it_refuses_a_stock_change_without_a_number(browser, variant):
    response = browser.post(
        reverse("sandbox:variant_inventory", args=[variant.id]), {"mode": "available"}, follow=True
    )
    variant.refresh_from_db()
    assert variant.available == 10
    assert any("whole number" in t for t in texts(response))


# --- carts -----------------------------------------------------------------------------------


def test_it_starts_a_cart_from_the_form(browser, shop, variant):
    response = browser.post(
        reverse("sandbox:carts"),
        {"email": "c@example.com", "variant": variant.id, "quantity": 3},
        follow=True,
    )
    cart = Cart.objects.get(shop=shop)
    assert str(cart.subtotal_price) == "37.50"
    assert "Cart started for c@example.com" in texts(response)
    assert b"open" in response.content


def test_it_checks_out_a_cart_into_an_order(browser, shop, variant):
    cart = shop_actions.start_cart(shop, "c@example.com", [(variant, 1)])
    response = browser.post(reverse("sandbox:cart_check_out", args=[cart.id]), follow=True)
    cart.refresh_from_db()
    assert cart.checked_out_at and cart.order.number == 1001
    assert topics(shop)[-3:] == ["order.created", "inventory_level.updated", "product.updated"]
    assert "Cart checked out as order #1001" in texts(response)
    assert b"checked out" in response.content


def test_it_abandons_a_cart_now_and_fires_cart_abandoned_once(browser, shop, variant):
    cart = shop_actions.start_cart(shop, "c@example.com", [(variant, 1)])
    url = reverse("sandbox:cart_abandon", args=[cart.id])
    browser.post(url)
    response = browser.post(url, follow=True)
    cart.refresh_from_db()
    assert cart.abandoned_at is not None
    assert topics(shop).count("cart.abandoned") == 1
    assert "Cart is already checked out or abandoned" in texts(response)


def test_it_does_not_abandon_a_checked_out_cart(browser, shop, variant):
    cart = shop_actions.start_cart(shop, "c@example.com", [(variant, 1)])
    shop_actions.check_out_cart(cart)
    browser.post(reverse("sandbox:cart_abandon", args=[cart.id]))
    cart.refresh_from_db()
    assert cart.abandoned_at is None
    assert "cart.abandoned" not in topics(shop)


# --- discounts -------------------------------------------------------------------------------


def test_it_creates_a_discount_from_the_form(browser, shop):
    response = browser.post(
        reverse("sandbox:discounts"),
        {
            "code": "SAVE10",
            "kind": "percentage",
            "value": "10",
            "usage_limit": 5,
            "starts_at": "2026-12-01T10:00",
            "ends_at": "",
        },
        follow=True,
    )
    discount = Discount.objects.get(shop=shop)
    assert (discount.code, discount.usage_limit, discount.starts_at.hour) == ("SAVE10", 5, 10)
    assert topics(shop) == []  # the contract has no discount event
    assert "Discount SAVE10 created" in texts(response)


def test_it_refuses_a_percentage_over_100(browser, shop):
    response = browser.post(
        reverse("sandbox:discounts"), {"code": "BIG", "kind": "percentage", "value": "150"}
    )
    assert response.status_code == 200
    assert any("at most 100" in t for t in texts(response))
    assert not Discount.objects.exists()


# --- webhooks and deliveries -----------------------------------------------------------------


def test_it_lists_and_deletes_a_webhook(browser, shop, webhook):
    page = browser.get(reverse("sandbox:webhooks")).content.decode()
    assert "Test Automations" in page and webhook.url in page and "order.created" in page
    response = browser.post(reverse("sandbox:webhook_delete", args=[webhook.id]), follow=True)
    assert not Webhook.objects.filter(pk=webhook.pk).exists()
    assert f"Webhook {webhook.id} deleted" in texts(response)


def test_it_shows_deliveries_with_their_attempt_log(browser, shop, variant, webhook):
    shop_actions.place_order(shop, "a@example.com", [(variant, 1)])
    delivery = Delivery.objects.get()
    DeliveryAttempt.objects.create(delivery=delivery, status_code=503, latency_ms=42, error="busy")
    page = browser.get(reverse("sandbox:deliveries")).content.decode()
    assert delivery.event_id in page and webhook.id in page
    assert "503" in page and "busy" in page and "42" in page


def test_it_redelivers_an_event_as_a_new_pending_delivery(browser, shop, variant, webhook):
    shop_actions.place_order(shop, "a@example.com", [(variant, 1)])
    first = Delivery.objects.get()
    Delivery.objects.filter(pk=first.pk).update(status=Delivery.Status.DELIVERED, attempts=1)
    response = browser.post(reverse("sandbox:delivery_redeliver", args=[first.pk]), follow=True)
    again = Delivery.objects.exclude(pk=first.pk).get()
    assert (again.event_id, again.webhook_id, again.status, again.attempts) == (
        first.event_id,
        webhook.id,
        Delivery.Status.PENDING,
        0,
    )
    assert again.next_attempt_at is not None
    assert f"order.created {first.event_id} queued again" in texts(response)


def test_it_cannot_redeliver_to_a_deleted_webhook(browser, shop, variant, webhook):
    shop_actions.place_order(shop, "a@example.com", [(variant, 1)])
    delivery = Delivery.objects.get()
    webhook.delete()
    response = browser.post(reverse("sandbox:delivery_redeliver", args=[delivery.pk]), follow=True)
    assert Delivery.objects.count() == 1
    assert any("no longer exists" in t for t in texts(response))


def test_it_hides_another_shops_delivery(browser, app, outsider_order):
    their_event = events.emit(outsider_order.shop, "order.created", {"id": outsider_order.id})
    their_hook = Webhook.objects.create(
        shop=outsider_order.shop, application=app, url="http://127.0.0.1:9/x", events=[]
    )
    delivery = Delivery.objects.create(
        event=their_event,
        webhook=their_hook,
        webhook_ref=their_hook.id,
        url=their_hook.url,
        application=app,
    )
    response = browser.post(reverse("sandbox:delivery_redeliver", args=[delivery.pk]))
    assert response.status_code == 404
    assert browser.post(reverse("sandbox:webhook_delete", args=[their_hook.id])).status_code == 404


# --- faults ----------------------------------------------------------------------------------


def test_it_saves_the_fault_settings(browser, shop):
    page = browser.get(reverse("sandbox:faults")).content.decode()
    assert "Blank uses the sandbox default" in page
    response = browser.post(
        reverse("sandbox:faults"),
        {
            "fault_error_rate": "0.25",
            "fault_latency_ms": "100",
            "cart_abandon_seconds": "5",
            "fault_rate_limit_rate": "",
            "fault_delivery_fail_rate": "",
            "fault_delivery_duplicate_rate": "0.5",
        },
        follow=True,
    )
    shop.refresh_from_db()
    assert (shop.fault_error_rate, shop.fault_latency_ms, shop.cart_abandon_seconds) == (
        0.25,
        100,
        5,
    )
    assert shop.fault_rate_limit_rate is None and shop.fault_delivery_duplicate_rate == 0.5
    assert "Fault settings saved" in texts(response)


def test_it_refuses_a_rate_above_one_and_an_endless_latency(browser, shop):
    data = {"fault_error_rate": "2", "fault_latency_ms": str(10**9)}
    response = browser.post(reverse("sandbox:faults"), data)
    assert response.status_code == 200
    assert b"less than or equal to 1." in response.content
    assert b"less than or equal to 60000" in response.content
    shop.refresh_from_db()
    assert shop.fault_error_rate is None


# --- list pages with data --------------------------------------------------------------------


def test_list_pages_render_with_data(browser, shop, variant, webhook):
    order = shop_actions.place_order(shop, "list@example.com", [(variant, 1)])
    shop_actions.start_cart(shop, "cart@example.com", [(variant, 1)])
    shop_actions.create_discount(shop, {"code": "LIST5", "kind": "fixed_amount", "value": "5"})
    expectations = {
        "home": "order.created",
        "orders": f"#{order.number}",
        "customers": "list@example.com",
        "products": "Fake Mug",
        "carts": "cart@example.com",
        "discounts": "LIST5",
        "webhooks": webhook.id,
        "deliveries": "order.created",
        "faults": "Cart abandoned after",
    }
    for name, expected in expectations.items():
        response = browser.get(reverse(f"sandbox:{name}"))
        assert response.status_code == 200, name
        assert expected in response.content.decode(), name


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("name", ["home", "orders", "customers", "products", "carts", "deliveries"])
def test_list_pages_do_not_query_per_row(browser, shop, variant, webhook, name):
    def add_rows() -> None:
        order = shop_actions.place_order(shop, "rows@example.com", [(variant, 1)])
        DeliveryAttempt.objects.create(delivery=Delivery.objects.filter(event__shop=shop).last())
        cart = shop_actions.start_cart(shop, "rows@example.com", [(variant, 1)])
        shop_actions.check_out_cart(cart)
        shop_actions.create_product(shop, {"title": f"P{order.number}"}, [{"price": "1.00"}])

    add_rows()
    few = queries_for(browser, reverse(f"sandbox:{name}"))
    add_rows()
    add_rows()
    assert queries_for(browser, reverse(f"sandbox:{name}")) == few

"""Emails about failed runs and shops to reconnect: once an hour, plain words, no secrets."""

from datetime import timedelta

import pytest
from django.test import Client

from automations.engine.runs import finish_run
from automations.models import Run
from automations.signals import run_failed
from connectors.models import Connection
from connectors.signals import connection_needs_reconnect
from notifications.models import ConfirmedAddress, Notification
from tests.personas import (
    ACCESS_TOKEN,
    REFRESH_TOKEN,
    add_failed_steps,
    make_recipe,
    make_run,
    make_shop,
    make_user,
    order,
)

pytestmark = pytest.mark.django_db
REASON = "Step 2 (discount) failed: Cartly refused the discount."


@pytest.fixture(autouse=True)
def public_url(settings):
    settings.PUBLIC_BASE_URL = "https://automations.example.com"


@pytest.fixture(autouse=True)
def confirmed_merchant(merchant):
    """The merchant confirmed their address (notifications go only to a confirmed one)."""
    ConfirmedAddress.objects.create(user=merchant, email=merchant.email)
    return merchant


def fail(recipe, number: int) -> Run:
    """A failed run, announced the way the engine announces it."""
    run = make_run(recipe, order(number), Run.Status.FAILED, reason=REASON)
    run_failed.send(sender=Run, run=run)
    return run


def test_it_names_the_failure_once_when_the_reason_already_holds_it(recipe, mailoutbox):
    run = make_run(recipe, order(1001), Run.Status.FAILED, reason="x")
    add_failed_steps(run)
    run.failure_reason = "Step 2 (discount): Cartly refused the discount: code is already taken."
    run.save()
    run_failed.send(sender=Run, run=run)
    [mail] = mailoutbox
    assert mail.body.count("code is already taken") == 1
    assert "Cartly refused this value:\n  - Code “THANKS-1001”: has already been taken" in mail.body


def test_it_emails_the_owner_when_a_run_fails(recipe, mailoutbox):
    run = make_run(recipe, order(1001), Run.Status.FAILED, reason=REASON)
    add_failed_steps(run)
    run_failed.send(sender=Run, run=run)
    [mail] = mailoutbox
    assert mail.to == ["merchant@shop.test"]
    assert mail.subject == "Your recipe “Thank buyers” failed"
    assert "order #1001" in mail.body and REASON in mail.body
    # The failure is named once, with the value that clashed.
    assert mail.body.count("Cartly refused the discount: code is already taken.") == 1
    assert "Code “THANKS-1001”: has already been taken" in mail.body
    assert f"https://automations.example.com/runs/{run.pk}/" in mail.body
    assert ACCESS_TOKEN not in mail.body and REFRESH_TOKEN not in mail.body
    note = Notification.objects.get()
    assert (note.kind, note.recipe, note.run, note.recipient) == (
        "run_failed",
        recipe,
        run,
        "merchant@shop.test",
    )


def test_it_emails_once_an_hour_per_recipe(merchant, shop, recipe, mailoutbox):
    first = fail(recipe, 1001)
    fail(recipe, 1002)
    assert len(mailoutbox) == 1 and str(first.pk) in mailoutbox[0].body
    assert Notification.objects.count() == 1

    other = make_recipe(merchant, shop, "Tag big spenders")
    fail(other, 1003)
    assert len(mailoutbox) == 2  # another recipe has its own hour

    Notification.objects.update(
        sent_at=Notification.objects.get(recipe=recipe).sent_at - timedelta(hours=1, minutes=1)
    )
    fail(recipe, 1004)
    assert len(mailoutbox) == 3  # an hour later, the recipe's next failure is news again


def test_it_emails_when_the_engine_finishes_a_run_as_failed(
    recipe, mailoutbox, django_capture_on_commit_callbacks
):
    run = make_run(recipe, order(1001), Run.Status.RUNNING)
    with django_capture_on_commit_callbacks(execute=True):
        finish_run(run, Run.Status.FAILED, REASON)
    assert len(mailoutbox) == 1 and REASON in mailoutbox[0].body


def test_it_emails_once_an_hour_when_a_shop_needs_reconnecting(shop, mailoutbox):
    shop.status = Connection.Status.NEEDS_RECONNECT
    shop.status_reason = "Cartly no longer accepts our access: the app was uninstalled."
    shop.save()
    connection_needs_reconnect.send(sender=Connection, connection=shop)
    connection_needs_reconnect.send(sender=Connection, connection=shop)
    [mail] = mailoutbox
    assert mail.subject == "Please reconnect your shop “Merchant Tees”"
    assert "the app was uninstalled" in mail.body
    assert f"https://automations.example.com/connections/{shop.pk}/" in mail.body
    assert ACCESS_TOKEN not in mail.body and REFRESH_TOKEN not in mail.body
    assert Notification.objects.get().connection == shop


def test_it_sends_nothing_to_a_user_without_an_email(mailoutbox):
    nomail = make_user("nomail")
    fail(make_recipe(nomail, make_shop(nomail)), 1001)
    assert mailoutbox == [] and not Notification.objects.exists()


def test_a_mail_server_that_refuses_does_not_break_the_run(settings, recipe, mailoutbox):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    fail(recipe, 1001)  # the receiver logs the refusal instead of raising
    assert not Notification.objects.exists()  # not recorded, so the next failure tries again


def test_it_sends_a_test_notification_on_post(client, merchant, mailoutbox):
    client.force_login(merchant)
    assert client.get("/notifications/test/").status_code == 405
    response = client.post("/notifications/test/", follow=True)
    assert "Sent a test email to merchant@shop.test" in response.content.decode()
    [mail] = mailoutbox
    assert mail.to == ["merchant@shop.test"] and "https://automations.example.com/" in mail.body
    assert Notification.objects.get().kind == "test"


def test_it_asks_for_an_email_before_a_test(client, mailoutbox):
    client.force_login(make_user("nomail"))
    response = client.post("/notifications/test/", follow=True)
    assert "Add and confirm an email address first" in response.content.decode()
    assert mailoutbox == []


def test_it_saves_the_address_and_emails_it_a_confirmation_link(client, mailoutbox):
    user = make_user("nomail")
    client.force_login(user)
    assert "Notifications need an email address" in client.get("/").content.decode()
    page = client.post("/notifications/email/", {"email": "new@shop.test"}, follow=True)
    user.refresh_from_db()
    assert user.email == "new@shop.test"
    assert "Open it to confirm the address" in page.content.decode()
    [mail] = mailoutbox
    assert mail.to == ["new@shop.test"] and "/notifications/email/confirm/" in mail.body
    client.post("/notifications/email/", {"email": "not an email"})
    user.refresh_from_db()
    assert user.email == "new@shop.test"


def test_its_buttons_need_login_and_a_csrf_token(client, merchant, mailoutbox):
    response = client.post("/notifications/test/")
    assert response.status_code == 302 and "/login/" in response["Location"]
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(merchant)
    assert strict.post("/notifications/test/").status_code == 403
    assert strict.post("/notifications/email/", {"email": "x@y.test"}).status_code == 403
    assert mailoutbox == []

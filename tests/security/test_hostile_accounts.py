"""No brute force, no mail cannon: login locks out per account and per client (django-axes),
sign-up can be closed and is throttled, alerts go only to a confirmed address, and the buttons
that send email are throttled per user. Through the real pages."""

import re

import pytest
from django.test import Client

from automations.models import Run
from automations.signals import run_failed
from notifications.models import ConfirmedAddress, Notification
from tests.personas import make_recipe, make_run, make_shop, make_user, order

pytestmark = pytest.mark.django_db
PASSWORD = "right-pass-123"
FAILURE_LIMIT = 5  # AXES_FAILURE_LIMIT's default: the fifth wrong password locks
LOCKED = "Too many login attempts"


def log_in(username: str, password: str, address: str = "203.0.113.7"):
    return Client(REMOTE_ADDR=address).post("/login/", {"username": username, "password": password})


@pytest.fixture
def victim():
    return make_user("victim", email="victim@shop.test")


def test_guessing_one_accounts_password_locks_that_account(victim):
    for attempt in range(FAILURE_LIMIT - 1):
        # From a new address each time: a botnet; the account is what is counted.
        assert log_in("victim", f"guess-{attempt}", f"198.51.100.{attempt}").status_code == 200
    assert log_in("victim", "guess-last", "198.51.100.200").status_code == 429
    locked = log_in("victim", "victim-pass-123", "192.0.2.99")
    assert locked.status_code == 429 and LOCKED in locked.content.decode()
    assert "_auth_user_id" not in locked.client.session


def test_guessing_many_accounts_from_one_client_locks_that_client(victim):
    for attempt in range(FAILURE_LIMIT - 1):
        assert log_in(f"someone-{attempt}", "guess").status_code == 200
    assert log_in("someone-last", "guess").status_code == 429
    locked = log_in("victim", "victim-pass-123")  # even the right password, from there
    assert locked.status_code == 429 and LOCKED in locked.content.decode()
    elsewhere = log_in("victim", "victim-pass-123", "192.0.2.50")
    assert elsewhere.status_code == 302  # the account itself is fine


def test_a_right_password_before_the_limit_logs_in(victim):
    for attempt in range(FAILURE_LIMIT - 1):
        log_in("victim", f"guess-{attempt}")
    assert log_in("victim", "victim-pass-123").status_code == 302


def test_sign_up_is_closed_unless_opened(settings):
    settings.SIGNUP_OPEN = False
    page = Client().get("/signup/")
    assert page.status_code == 403 and "Sign-up is closed" in page.content.decode()
    refused = Client().post(
        "/signup/", {"username": "x", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert refused.status_code == 403
    assert "Create an account" not in Client().get("/login/").content.decode()


def test_sign_up_is_throttled_per_client(settings, django_user_model):
    settings.SIGNUP_OPEN = True
    bot = {"password1": "Cartly-bot-pass-2031", "password2": "Cartly-bot-pass-2031"}
    answers = [  # a fresh client each time: one that signed up is logged in
        Client(REMOTE_ADDR="203.0.113.20")
        .post("/signup/", {"username": f"bot{n}", **bot})
        .status_code
        for n in range(12)
    ]
    assert answers == [302] * 10 + [429] * 2  # throttles.SIGNUP_PER_CLIENT: 10 an hour
    assert django_user_model.objects.filter(username__startswith="bot").count() == 10
    other = Client(REMOTE_ADDR="203.0.113.21").post(
        "/signup/",
        {"username": "human", "password1": "Cartly-human-2031", "password2": "Cartly-human-2031"},
    )
    assert other.status_code == 302


def test_sign_up_tries_of_one_username_are_throttled(settings, victim):
    settings.SIGNUP_OPEN = True
    answers = [
        Client(REMOTE_ADDR=f"198.51.100.{n}")
        .post("/signup/", {"username": "victim", "password1": "x", "password2": "y"})
        .status_code
        for n in range(7)
    ]
    assert answers == [200] * 5 + [429] * 2  # throttles.SIGNUP_PER_ACCOUNT: 5 an hour


def test_alerts_never_go_to_an_unconfirmed_address(mailoutbox):
    mallory = make_user("mallory", email="stranger@elsewhere.test")  # typed, never confirmed
    recipe = make_recipe(mallory, make_shop(mallory))
    for number in (1, 2, 3):
        run_failed.send(sender=Run, run=make_run(recipe, order(number), Run.Status.FAILED))
    assert mailoutbox == [] and not Notification.objects.exists()
    client = Client()
    client.force_login(mallory)
    page = client.post("/notifications/test/", follow=True).content.decode()
    assert "Add and confirm an email address first" in page
    assert mailoutbox == []


def confirmation_link(mail) -> str:
    return re.search(r"https?://\S+/notifications/email/confirm/\S+/", mail.body).group(0)


def test_an_address_is_confirmed_by_its_user_opening_the_emailed_link(settings, mailoutbox):
    settings.PUBLIC_BASE_URL = "https://automations.example.com"
    user = make_user("carol")
    client = Client()
    client.force_login(user)
    client.post("/notifications/email/", {"email": "carol@shop.test"})
    [mail] = mailoutbox
    assert mail.to == ["carol@shop.test"]
    path = confirmation_link(mail).removeprefix(settings.PUBLIC_BASE_URL)

    outsider = Client()
    outsider.force_login(make_user("outsider"))
    assert outsider.get(path).status_code == 400  # another account's link
    assert outsider.post(path).status_code == 400
    assert client.get(path).status_code == 200  # a mail scanner's GET confirms nothing
    assert not ConfirmedAddress.objects.exists()
    client.post(path)
    assert ConfirmedAddress.objects.filter(user=user, email="carol@shop.test").exists()

    client.post("/notifications/email/", {"email": "carol@other.test"})
    assert client.get(path).status_code == 400  # for an address no longer hers
    assert len(mailoutbox) == 2 and mailoutbox[1].to == ["carol@other.test"]


def test_confirmation_emails_are_throttled_per_user(mailoutbox):
    client = Client()
    client.force_login(make_user("spammer"))
    for n in range(6):
        client.post("/notifications/email/", {"email": f"target{n}@elsewhere.test"})
    assert len(mailoutbox) == 3  # throttles.CONFIRMATION_PER_USER: 3 an hour
    page = client.post("/notifications/email/resend/", follow=True).content.decode()
    assert "Too many confirmation emails for now" in page
    assert len(mailoutbox) == 3


def test_the_test_notification_button_is_throttled_per_user(mailoutbox):
    user = make_user("eager", email="eager@shop.test")
    ConfirmedAddress.objects.create(user=user, email=user.email)
    client = Client()
    client.force_login(user)
    pages = [client.post("/notifications/test/", follow=True).content.decode() for _ in range(5)]
    assert len(mailoutbox) == 3  # throttles.TEST_EMAIL_PER_USER: 3 an hour
    assert all("Sent a test email" in page for page in pages[:3])
    assert all("Too many test emails for now" in page for page in pages[3:])
    other = make_user("patient", email="patient@shop.test")
    ConfirmedAddress.objects.create(user=other, email=other.email)
    client.force_login(other)
    client.post("/notifications/test/")
    assert len(mailoutbox) == 4  # counted per user

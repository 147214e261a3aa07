"""The merchant's profile (time zone), times shown in it in one format, and the local logins
`make run` makes (the demo merchant and an admin)."""

import io
import json
import zoneinfo
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.template import Context, Template
from django.test import Client
from django.utils import timezone

from accounts.middleware import SESSION_KEY
from accounts.models import Profile
from tests.personas import make_run, order

pytestmark = pytest.mark.django_db
INSTANT = datetime(2026, 3, 5, 13, 3, 22, tzinfo=UTC)


def render(text: str, **context) -> str:
    return Template("{% load display %}" + text).render(Context(context))


def test_when_writes_one_format_in_the_active_zone():
    with timezone.override(zoneinfo.ZoneInfo("Europe/Paris")):
        assert render("{{ t|when }}", t=INSTANT) == (
            '<time datetime="2026-03-05T13:03:22+00:00">2026-03-05 14:03:22 CET</time>'
        )
    assert render("{{ t|when }}", t=INSTANT).endswith(">2026-03-05 13:03:22 UTC</time>")
    assert render("{{ t|when }}", t=None) == ""


def test_data_is_shown_as_json():
    data = {"ok": True, "none": None, "tags": ["vip"], "when": INSTANT}
    text = render("{{ d|as_json }}", d=data)
    assert "True" not in text and "None" not in text and "'" not in text
    assert json.loads(text.replace("&quot;", '"'))["ok"] is True
    assert render("{{ v|shown }}", v=["a", True]) == "[&quot;a&quot;, true]"


def test_a_merchant_chooses_a_time_zone_and_every_page_uses_it(browser, merchant, recipe):
    run = make_run(recipe, order(1001), created_at=INSTANT)
    assert "2026-03-05 13:03:22 UTC" in browser.get(f"/runs/{run.pk}/").content.decode()
    page = browser.post("/profile/", {"time_zone": "America/New_York"})
    assert page.status_code == 302
    assert Profile.objects.get(user=merchant).time_zone == "America/New_York"
    body = browser.get(f"/runs/{run.pk}/").content.decode()
    assert "2026-03-05 08:03:22 EST" in body and " UTC<" not in body


def test_it_refuses_a_zone_it_does_not_know(browser, merchant):
    page = browser.post("/profile/", {"time_zone": "Mars/Olympus"})
    assert page.status_code == 400 and "Select a valid choice" in page.content.decode()
    assert not Profile.objects.filter(user=merchant, time_zone="Mars/Olympus").exists()


def test_the_zone_is_read_once_per_session_not_per_page(merchant, django_assert_num_queries):
    Profile.objects.create(user=merchant, time_zone="Asia/Tokyo")
    browser = Client()
    browser.force_login(merchant)  # the login keeps the zone in the session
    assert browser.session[SESSION_KEY] == "Asia/Tokyo"
    session = browser.session
    del session[SESSION_KEY]  # a session from before profiles: looked up once, then kept
    session.save()
    browser.get("/profile/")
    assert browser.session[SESSION_KEY] == "Asia/Tokyo"
    with django_assert_num_queries(3):  # session, user, the profile form's own row
        browser.get("/profile/")


def test_make_run_logins_include_an_admin_who_can_open_the_admin(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("demo_user", stdout=io.StringIO())
    logins = {
        name: json.loads((tmp_path / f"{name}-login.json").read_text())
        for name in ("demo", "admin")
    }
    assert oct((tmp_path / "admin-login.json").stat().st_mode & 0o777) == "0o600"
    admin, demo = Client(), Client()
    assert admin.login(**logins["admin"]) and demo.login(**logins["demo"])
    assert admin.get("/admin/").status_code == 200
    assert demo.get("/admin/").status_code == 302  # a merchant, not staff
    call_command("demo_user", stdout=io.StringIO())  # a second run: same logins
    assert json.loads((tmp_path / "admin-login.json").read_text()) == logins["admin"]

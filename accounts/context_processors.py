from django.conf import settings


def signup(request) -> dict[str, bool]:
    """Pages offer "Create an account" only where sign-up is open (SIGNUP_OPEN)."""
    return {"signup_open": settings.SIGNUP_OPEN}

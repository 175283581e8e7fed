"""Production: everything from the environment, no insecure defaults."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

DEBUG = False
if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure"):  # noqa: F405
    raise ImproperlyConfigured("SECRET_KEY must be set to a random value of at least 50 characters")
if not ALLOWED_HOSTS:  # noqa: F405
    raise ImproperlyConfigured("ALLOWED_HOSTS must list the host names the system answers on")
if not REDIS_URL:  # noqa: F405
    raise ImproperlyConfigured("REDIS_URL must be set")

DATABASES = {"default": database_from_env()}  # noqa: F405
LLO_ALLOW_DEMO = env.bool("LLO_ALLOW_DEMO", default=False)

# ФГИС МДЛП: with MDLP_BASE_URL empty the reports wait in the outbox; once it is set, the account and a real
# signer must be too — the demo signer's signature is refused by MDLP (docs/deployment.md).
if MDLP_BASE_URL:  # noqa: F405
    if not (MDLP_CLIENT_ID and MDLP_CLIENT_SECRET):  # noqa: F405
        raise ImproperlyConfigured("MDLP_CLIENT_ID and MDLP_CLIENT_SECRET must be set when MDLP_BASE_URL is "
                                   "(or leave MDLP_BASE_URL empty: the reports then wait in the outbox)")
    if MDLP_SIGNER.endswith(".DemoSigner") and not LLO_ALLOW_DEMO:  # noqa: F405
        raise ImproperlyConfigured("MDLP_SIGNER is the demo signer, which ФГИС МДЛП refuses: set the dotted path "
                                   "of the organization's GOST signer")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^health/"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True

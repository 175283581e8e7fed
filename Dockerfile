# Production image: web (gunicorn), Celery worker and beat all run from it.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production

# libdmtx0b: DataMatrix; fonts-dejavu-core: Cyrillic in PDF print forms
RUN apt-get update \
 && apt-get install -y --no-install-recommends libdmtx0b fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
RUN pip install .

COPY . .
# collectstatic needs settings to load; these values exist only during the build
RUN SECRET_KEY=build-only-build-only-build-only-build-only-build-only \
    ALLOWED_HOSTS=build DATABASE_URL=postgres://build@build/build REDIS_URL=redis://build:6379/0 \
    python manage.py collectstatic --noinput \
 && useradd --system --uid 10001 --home-dir /app llo \
 && mkdir -p /app/var && chown -R llo /app/var

USER llo
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "4", "--threads", "4", \
     "--timeout", "60", "--access-logfile", "-"]

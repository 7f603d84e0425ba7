# The service as a container: installed as a wheel (templates are package data), run as a non-root user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml setup.cfg README.md ./
COPY service ./service
# The source folder is removed after the install so that `python -m service` runs the
# installed wheel, proving the templates ship as package data.
# pip writes bytecode for what it installs, but the base image ships the standard library
# without any, and the service (non-root, PYTHONDONTWRITEBYTECODE) cannot write it: every
# start would compile the ~200 standard modules it imports, about as much CPU again as the
# rest of a cold start. Compiled once here (about 15 MB; site-packages is pip's).
RUN pip install ".[azure,aws]" \
    && python -m compileall -q -j 0 -x /site-packages/ \
        "$(python -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')" \
    && rm -rf service build *.egg-info \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin mailer \
    && mkdir -p /app/var \
    && chown mailer /app/var

USER mailer
ENV APP_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000
EXPOSE 8000
VOLUME ["/app/var"]

HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/api/health' % os.environ.get('PORT', '8000'), timeout=4)"]

CMD ["python", "-m", "service"]

# One image for web and worker; the worker's compose service reserves a GPU.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY requirements.txt requirements-nodeps.txt ./
# TORCH_INDEX picks the build: the CPU wheels, or a CUDA index on GPU hosts.
ARG TORCH_INDEX=https://download.pytorch.org/whl/cu128
RUN pip install --index-url "$TORCH_INDEX" "$(grep -E '^torch==' requirements.txt)" \
 && pip install -r requirements.txt \
 && pip install --no-deps -r requirements-nodeps.txt
COPY . .
# collectstatic needs settings, and settings a strong SECRET_KEY: a throwaway one, never kept.
RUN SECRET_KEY=$(python -c "import secrets; print(secrets.token_urlsafe(50))") \
    python manage.py collectstatic --noinput -v0
EXPOSE 8000
CMD ["env", "WEB_HOST=0.0.0.0", "scripts/web.sh"]

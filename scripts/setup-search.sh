#!/usr/bin/env bash
# The search's Python side, idempotently: a venv this project owns with optuna (the study's
# engine), optuna-dashboard (to watch a study), matplotlib (the history plot) and psycopg
# (PostgreSQL storage for many workers); and Debian's PostgreSQL server for the shared-study
# test. `latentlab search` finds the venv at ~/.cache/latentlab/optuna-venv.
set -euo pipefail
venv="${LATENTLAB_SEARCH_VENV:-$HOME/.cache/latentlab/optuna-venv}"
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! "$venv/bin/python" -c 'import optuna_dashboard, matplotlib, psycopg; from optuna.storages import RetryHeartbeatStaleTrialCallback' 2>/dev/null; then
  echo "setup-search: installing optuna into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check \
    'optuna>=4.9,<5' optuna-dashboard matplotlib 'psycopg[binary]'
fi

if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "setup-search: installing postgresql"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql >/dev/null
fi

#!/usr/bin/env bash
# facefake's two commands (see README.md):
#   ./run.sh demo [options]   set up .venv if needed, then run the end-to-end demo (report in ./facefake-report)
#   ./run.sh test             set up .venv if needed, then run every test: notebook/module sync, static check (ruff),
#                             README, results page and docs checks, stored outputs vs code, nbdev-test, pytest
#   ./run.sh setup            only set up .venv (what the two above do first; CI calls it before fetching data)
# Datasets come from $FACEFAKE_DATA and pretrained weights from $TORCH_HOME; when they are unset and an offline
# copy sits beside the checkout (../shared, as on the course's CI machine), that copy is used.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

setup() {
  # the stamp holds the SHA-256 of the pyproject.toml it was installed from (its content, not its time: nbdev-export
  # rewrites the file unchanged on every test run)
  local stamp=.venv/.facefake-installed want
  want=$("${PYTHON:-python3}" -c 'import hashlib; print(hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest())')
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "== setting up .venv (the first time takes a few minutes)"
    [ -x .venv/bin/python ] || "${PYTHON:-python3}" -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e '.[dev]'
    echo "$want" > "$stamp"
  fi
}

offline_defaults() {
  if [ -z "${FACEFAKE_DATA:-}" ] && [ -d ../shared/datasets ]; then export FACEFAKE_DATA="$(cd ../shared/datasets && pwd)"; fi
  if [ -z "${TORCH_HOME:-}" ] && [ -d ../shared/torch ]; then export TORCH_HOME="$(cd ../shared/torch && pwd)"; fi
  export MPLBACKEND=Agg
  echo "== FACEFAKE_DATA=${FACEFAKE_DATA:-(unset: ~/.cache/facefake)} TORCH_HOME=${TORCH_HOME:-(unset: ~/.cache/torch)}"
}

tree_state() { { git status --porcelain; git diff; } | sha1sum; }

check_sync() {
  # nbdev-export and nbdev-clean must leave the tree as it was: notebooks and module agree, notebooks are clean
  if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then echo "== not a git checkout: sync check skipped"; return; fi
  local before after
  before=$(tree_state)
  .venv/bin/nbdev-export
  .venv/bin/nbdev-clean
  after=$(tree_state)
  if [ "$before" != "$after" ]; then
    echo "FAILED: nbdev-export/nbdev-clean changed the tree; run them and commit the result:"
    git status --porcelain
    exit 1
  fi
  echo "== notebooks and facefake/ are in sync, notebooks are clean"
}

case "${1:-}" in
  demo)
    shift; setup; offline_defaults
    exec .venv/bin/facefake-demo "$@" ;;
  test)
    setup; offline_defaults
    # one scratch folder per test run, removed at the end however the run ends: the notebooks' and tests' temporary
    # folders (TMPDIR) and the probe's feature cache (fresh, so that no test reads features an earlier run computed).
    # Without it every run left ~1.5 GB of scratch datasets and detectors in /tmp.
    SCRATCH="$(mktemp -d -t facefake-test.XXXXXX)"
    trap 'rm -rf "$SCRATCH"' EXIT
    export TMPDIR="$SCRATCH" FACEFAKE_CACHE="$SCRATCH/feature-cache"
    check_sync
    echo "== static check: ruff (pyflakes rules) over facefake/, bench/, tools/, tests/"
    .venv/bin/ruff check
    .venv/bin/python tools/make_readme.py --check
    .venv/bin/python tools/make_results.py --check
    echo "== stored outputs: each notebook's outputs came from the code now in the tree"
    .venv/bin/python tools/nbstate.py check
    echo "== docs: nbdev-proc-nbs (what nbdev-docs does before Quarto), show_doc targets, docstrings"
    .venv/bin/python tools/check_docs.py
    echo "== nbdev-test (notebooks)"
    # two notebooks at a time, one thread each: on 2 cores, more threads per worker only fight each other
    OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" .venv/bin/nbdev-test --n-workers 2 --timing
    echo "== pytest (tests/)"
    set +e; .venv/bin/python -m pytest -q -rs --durations=15 tests; rc=$?; set -e
    if [ $rc -eq 5 ]; then echo "pytest collected no tests"; rc=0; fi
    exit $rc ;;
  setup)
    setup ;;
  *)
    echo "usage: ./run.sh demo [facefake-demo options] | ./run.sh test | ./run.sh setup"; exit 2 ;;
esac

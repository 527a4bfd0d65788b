#!/usr/bin/env bash
# Static checks: TypeScript types, shellcheck on our own scripts, ansible-lint (production profile).
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc --noEmit -p .
shellcheck scripts/*.sh .ci/run
if [ -d roles ] && [ -n "$(ls -A roles)" ]; then
  # The playbook names its roles sbdi.backup.<role>: the checkout linked as that collection.
  node scripts/link-collection.mjs
  # A copy of the collection that an ansible-lint without offline mode installed into its cache
  # would be found before the checkout, with the roles as they were then.
  rm -rf "${XDG_CACHE_HOME:-$HOME/.cache}"/ansible-compat/*/collections/ansible_collections/sbdi
  ansible-lint --profile production roles playbooks
fi

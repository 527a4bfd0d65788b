#!/usr/bin/env bash
# Static checks: TypeScript types, shellcheck on our own scripts, ansible-lint (production profile).
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc --noEmit -p .
shellcheck scripts/*.sh .ci/run
if [ -d roles ] && [ -n "$(ls -A roles)" ]; then
  # The playbook names its roles sbdi.backup.<role>: the checkout linked as that collection.
  node scripts/link-collection.mjs
  ansible-lint --profile production roles playbooks
fi

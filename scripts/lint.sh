#!/usr/bin/env bash
# Static checks: TypeScript types, shellcheck on our own scripts, ansible-lint (production profile).
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc --noEmit -p .
shellcheck scripts/*.sh .ci/run
if [ -d roles ] && [ -n "$(ls -A roles)" ]; then
  ansible-lint --profile production roles playbooks
fi

#!/usr/bin/env bash
# Self-test of tests/hardware/verify_driver.yml with a fake nvidia-smi (no GPU needed):
# the matching pin must pass with changed=0; a wrong pin and persistence mode off must fail.
set -euo pipefail
cd "$(dirname "$0")/../.."
PB=tests/hardware/verify_driver.yml
export PATH="$PWD/tests/hardware/fake-bin:$PATH" ANSIBLE_STDOUT_CALLBACK=default
run() { ansible-playbook -i localhost, "$PB" -e nvidia_driver_verify_module_type=false "$@"; }
out=$(run -e nvidia_driver_version=580.159.04) || { echo "$out"; echo "FAIL: matching pin did not pass"; exit 1; }
grep -q 'changed=0' <<<"$out" || { echo "$out"; echo "FAIL: verify changed something"; exit 1; }
grep -q '8 GPU(s): NVIDIA H200' <<<"$out" || { echo "$out"; echo "FAIL: GPUs not reported"; exit 1; }
run -e nvidia_driver_version=580 -e nvidia_driver_branch=580 >/dev/null || { echo "FAIL: branch-only pin"; exit 1; }
if run -e nvidia_driver_version=580.95.05 >/dev/null; then echo "FAIL: wrong pin passed"; exit 1; fi
if FAKE_PERSISTENCE=Disabled run -e nvidia_driver_version=580.159.04 >/dev/null; then
  echo "FAIL: persistence mode off passed"; exit 1; fi
FAKE_PERSISTENCE=Disabled run -e nvidia_driver_version=580.159.04 -e nvidia_driver_verify_persistence_mode=false >/dev/null \
  || { echo "FAIL: persistence check not optional"; exit 1; }
echo "verify_driver.yml self-test: ok (match passes with changed=0, wrong pin and persistence off fail)"

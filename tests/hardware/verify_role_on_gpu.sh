#!/usr/bin/env bash
# The whole nvidia_driver role (not only verify.yml) on a GPU machine that already runs the pinned
# driver: preflight must find the NVIDIA PCI device, see the driver running, skip install/configure
# ("verified and left untouched") and report changed=0. Needs ansible-core; community.general is
# not needed on this path. Usage: tests/hardware/verify_role_on_gpu.sh <driver version> [ansible-playbook args]
set -euo pipefail
cd "$(dirname "$0")/../.."
version=${1:?driver version, e.g. 580.159.04}; shift
coll=$(mktemp -d); mkdir -p "$coll/ansible_collections/cnai"; ln -s "$PWD" "$coll/ansible_collections/cnai/platform"
trap 'rm -rf "$coll"' EXIT
cat > "$coll/site.yml" <<'YAML'
- name: nvidia_driver on a host that already runs the pinned driver
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  roles:
    - cnai.platform.nvidia_driver
YAML
ANSIBLE_COLLECTIONS_PATH="$coll" ansible-playbook -i localhost, "$coll/site.yml" -e nvidia_driver_version="$version" "$@"

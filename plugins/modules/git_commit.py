#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: git_commit
short_description: Commit a directory's content (the rendered GitOps tree) to a Git branch, and push it
version_added: 0.1.0
description:
  - Makes the content of O(path) the next commit of O(branch). O(path) is authoritative - it becomes a Git
    work tree (C(git init) on the first run) and every file in it, added, changed or removed, is committed.
  - With O(remote_url), the remote branch's head is fetched first and becomes the parent of the commit (only
    the index is reset to it, the files are never touched), then the commit is pushed (a fast-forward).
  - The commit message names each component and part that changed (C(base), C(overlays/<env>), C(apps/<env>),
    C(helm)) and lists every file. Nothing changed - no commit, C(changed=false).
  - Every git command runs with O(timeout). HTTPS credentials (O(username), O(password)) reach git through
    C(GIT_ASKPASS) in the environment of the git process only - never on a command line, in the repository's
    configuration or in the result.
options:
  path:
    description: The directory to commit (absolute), for example C(cnai_render_dir).
    type: path
    required: true
  branch:
    description: The branch the commit goes to (and is pushed to).
    type: str
    default: main
  remote_url:
    description:
      - The repository to push to (C(origin)), for example C(https://git.example/platform/gitops.git),
        C(ssh://...) or C(file:///srv/git/gitops.git). Omit it to commit locally only.
    type: str
  push:
    description: Push the commit to O(remote_url).
    type: bool
    default: true
  username:
    description: User name for an HTTPS remote (with O(password)).
    type: str
  password:
    description: Password or token for an HTTPS remote (from Ansible Vault or a Secret; never logged).
    type: str
  author_name:
    description: Author and committer name.
    type: str
    default: cnai.platform
  author_email:
    description: Author and committer e-mail.
    type: str
    default: cnai.platform@localhost
  message_prefix:
    description: The subject's prefix.
    type: str
    default: cnai.platform
  timeout:
    description: Seconds each git command may take.
    type: int
    default: 60
extends_documentation_fragment:
  - cnai.platform.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
notes:
  - Check mode lists what would be committed (C(files)) and writes nothing (against the local head; no fetch
    on a first run).
requirements:
  - the git executable on the host the task runs on
author:
  - cnai.platform contributors (!UNKNOWN)
'''

EXAMPLES = r'''
- name: Commit the rendered tree to the GitOps repository
  cnai.platform.git_commit:
    path: "{{ cnai_render_dir }}"
    remote_url: https://git.example/platform/gitops.git
    branch: main
    username: "{{ gitops_git_username }}"
    password: "{{ gitops_git_password }}"
  register: gitops_commit
'''

RETURN = r'''
committed:
  description: Whether a commit was made.
  returned: always
  type: bool
pushed:
  description: Whether the branch was pushed.
  returned: always
  type: bool
commit:
  description: The head of the branch after the run (null when it has no commit yet).
  returned: always
  type: str
message:
  description: The commit message (null when nothing changed).
  returned: always
  type: str
  sample: "cnai.platform: update vllm (overlays/production)\n\nM vllm/overlays/production/kustomization.yaml\n"
files:
  description: C(git status --porcelain) lines of what the commit contains (would contain, in check mode).
  returned: always
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cnai.platform.plugins.module_utils.git_repo import GitError, commit_tree


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            branch=dict(type='str', default='main'),
            remote_url=dict(type='str'),
            push=dict(type='bool', default=True),
            username=dict(type='str'),
            password=dict(type='str', no_log=True),
            author_name=dict(type='str', default='cnai.platform'),
            author_email=dict(type='str', default='cnai.platform@localhost'),
            message_prefix=dict(type='str', default='cnai.platform'),
            timeout=dict(type='int', default=60),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        result = commit_tree(p['path'], p['branch'], p['remote_url'], p['push'], p['author_name'],
                             p['author_email'], p['message_prefix'], max(1, p['timeout']), p['username'],
                             p['password'], module.check_mode, module.get_bin_path('git', required=True))
    except GitError as exc:
        module.fail_json(msg='git_commit: %s' % exc)
    module.exit_json(**result)


if __name__ == '__main__':
    main()

# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Commit a directory's content to Git (the GitOps repository), through the git CLI with time limits.

The directory is authoritative: whatever it holds becomes the branch's next commit. With a remote, the local
branch first takes the remote branch's commit as its parent (``git fetch`` + ``git reset`` of the index only,
the files are never touched), so the commit records exactly what changed since the remote's head and a push
is a fast-forward. Nothing changed: no commit (and nothing pushed, unless an earlier push failed).
Credentials for HTTPS remotes go through GIT_ASKPASS from the environment of the git process only, never
on a command line or in the repository's config.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import stat
import subprocess
import tempfile

from ansible_collections.cnai.platform.plugins.module_utils.gitops import commit_message

ASKPASS = '''#!/bin/sh
case "$1" in
  Username*) printf '%s\\n' "$CNAI_GIT_USERNAME" ;;
  *) printf '%s\\n' "$CNAI_GIT_PASSWORD" ;;
esac
'''


class GitError(Exception):
    """A git command failed or timed out; the message names the command and git's output."""


class Git(object):
    def __init__(self, path, timeout=60, binary='git', username=None, password=None, runner=None):
        self.path, self.timeout, self.runner = path, timeout, runner or subprocess.run
        self.binary = binary if os.sep in binary else (shutil.which(binary) or binary)
        self.env = dict(os.environ, GIT_TERMINAL_PROMPT='0', LC_ALL='C')
        self._askpass_dir = None
        if password:
            self._askpass_dir = tempfile.mkdtemp(prefix='cnai-git-')
            script = os.path.join(self._askpass_dir, 'askpass')
            with open(script, 'w') as f:
                f.write(ASKPASS)
            os.chmod(script, stat.S_IRWXU)
            self.env.update(GIT_ASKPASS=script, CNAI_GIT_USERNAME=username or 'git', CNAI_GIT_PASSWORD=password)

    def close(self):
        if self._askpass_dir:
            shutil.rmtree(self._askpass_dir, ignore_errors=True)

    def __call__(self, *args, **kw):
        check = kw.get('check', True)
        cmd = [self.binary] + list(args)
        try:
            proc = self.runner(cmd, cwd=self.path, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=self.timeout, universal_newlines=True, check=False)
        except subprocess.TimeoutExpired:
            raise GitError('git %s did not finish within %s s (timeout)' % (' '.join(args[:2]), self.timeout))
        except OSError as exc:
            raise GitError('cannot run git (%s): %s' % (self.binary, exc))
        if check and proc.returncode != 0:
            raise GitError('git %s failed (rc=%d): %s' % (' '.join(args[:3]), proc.returncode,
                                                          (proc.stderr or proc.stdout).strip()))
        return proc


def _status(git):
    out = git('status', '--porcelain', '--untracked-files=all').stdout
    return [line for line in out.splitlines() if line.strip()]


def commit_tree(path, branch='main', remote_url=None, push=True, author_name='cnai.platform',
                author_email='cnai.platform@localhost', message_prefix='cnai.platform', timeout=60,
                username=None, password=None, check_mode=False, binary='git', runner=None):
    """Commit ``path`` (a directory) to ``branch``; see the module docstring. Returns
    ``{changed, committed, pushed, commit, message, files}``."""
    if not path or not os.path.isabs(path) or not os.path.isdir(path):
        raise GitError('path: %r must be an existing absolute directory' % path)
    git = Git(path, timeout, binary, username, password, runner)
    try:
        fresh = not os.path.isdir(os.path.join(path, '.git'))
        if fresh and check_mode:
            files = sorted('?? %s' % os.path.relpath(os.path.join(d, f), path)
                           for d, dummy, fs in os.walk(path) for f in fs)
            return {'changed': bool(files), 'committed': False, 'pushed': False, 'commit': None,
                    'message': commit_message(files, message_prefix), 'files': files}
        if fresh:
            git('init', '-q')
            git('symbolic-ref', 'HEAD', 'refs/heads/%s' % branch)
        remote_head = None
        if remote_url:
            if git('remote', 'get-url', 'origin', check=False).returncode == 0:
                git('remote', 'set-url', 'origin', remote_url)
            else:
                git('remote', 'add', 'origin', remote_url)
            listed = git('ls-remote', '--heads', 'origin', branch).stdout.split()
            if listed:
                git('fetch', '-q', 'origin', 'refs/heads/%s:refs/remotes/origin/%s' % (branch, branch))
                remote_head = git('rev-parse', 'refs/remotes/origin/%s' % branch).stdout.strip()
        local_head = git('rev-parse', '-q', '--verify', 'HEAD', check=False).stdout.strip() or None
        if not check_mode:
            if git('symbolic-ref', '-q', 'HEAD', check=False).stdout.strip() != 'refs/heads/%s' % branch:
                git('symbolic-ref', 'HEAD', 'refs/heads/%s' % branch)
                local_head = git('rev-parse', '-q', '--verify', 'HEAD', check=False).stdout.strip() or None
            if remote_head and remote_head != local_head:
                # the remote's head becomes the parent; the files (the render) stay as they are
                git('reset', '-q', remote_head)
                local_head = remote_head
            git('add', '-A')
            files = _status(git)
        else:
            files = _status(git)
        message = commit_message(files, message_prefix)
        result = {'changed': False, 'committed': False, 'pushed': False, 'commit': local_head,
                  'message': message, 'files': files}
        if check_mode:
            result['changed'] = bool(files) or bool(remote_url and push and local_head != remote_head
                                                    and local_head is not None)
            return result
        if files:
            git('-c', 'user.name=%s' % author_name, '-c', 'user.email=%s' % author_email, '-c', 'commit.gpgsign=false',
                'commit', '-q', '--no-verify', '-m', message)
            result.update(changed=True, committed=True, commit=git('rev-parse', 'HEAD').stdout.strip())
        if remote_url and push and result['commit'] and result['commit'] != remote_head:
            git('push', '-q', 'origin', 'HEAD:refs/heads/%s' % branch)
            result.update(changed=True, pushed=True)
        return result
    finally:
        git.close()

# -*- coding: utf-8 -*-
"""House rules for the collection's documentation, checked before antsibull-docs so that the failure says
which file to write or change (antsibull-docs then checks schema and markup of everything documented).

    python tests/docs/check_docs.py [collection root]

1. Every filter and test plugin a plugins/{filter,test}/*.py registers has plugins/{filter,test}/<name>.yml
   whose DOCUMENTATION.name is <name> (example: plugins/filter/embedding_models.yml).
2. No filter or test is named like a module (ansible-doc and Galaxy list plugins by name: one of them would
   hide the other in the docs).
3. Every role has meta/argument_specs.yml with a main entry point, and no default there is templated
   ("{{ ... }}"): argument_specs defaults are documentation and must be literal values of the option's type;
   a default computed in defaults/main.yml is described in the option's description instead.
4. Every module extends the cnai.platform.attributes doc fragment and declares check_mode and diff_mode.
"""
from __future__ import absolute_import, division, print_function

import ast
import glob
import importlib
import os
import sys

import yaml

__metaclass__ = type


def registered(root, kind):
    """{name: .py file} of the filters/tests the FilterModule/TestModule classes of plugins/<kind>/*.py return."""
    cls_name = {'filter': 'FilterModule', 'test': 'TestModule'}[kind]
    method = {'filter': 'filters', 'test': 'tests'}[kind]
    names = {}
    for path in sorted(glob.glob(os.path.join(root, 'plugins', kind, '*.py'))):
        mod_name = os.path.splitext(os.path.basename(path))[0]
        if mod_name == '__init__':
            continue
        try:
            module = importlib.import_module('ansible_collections.cnai.platform.plugins.%s.%s' % (kind, mod_name))
        except Exception as exc:  # pylint: disable=broad-except
            names['<import error>'] = '%s: cannot be imported (%s: %s)' % (os.path.relpath(path, root),
                                                                           type(exc).__name__, exc)
            continue
        cls = getattr(module, cls_name, None)
        if cls is None:
            continue
        for name in getattr(cls(), method)():
            names[name] = os.path.relpath(path, root)
    return names


def load_yaml(path):
    with open(path) as f:
        return yaml.safe_load(f)


def module_docs(path):
    """The DOCUMENTATION of a module file, parsed, without importing it."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, 'id', None) == 'DOCUMENTATION' for t in node.targets):
            return yaml.safe_load(node.value.value)
    return None


def templated(spec, where):
    """Paths of templated defaults in one argument_specs options dict (recursing into suboptions)."""
    found = []
    for name, opt in (spec or {}).items():
        opt = opt or {}
        default = opt.get('default')
        if isinstance(default, str) and '{{' in default:
            found.append('%s.%s: default %r' % (where, name, default))
        found.extend(templated(opt.get('options'), '%s.%s' % (where, name)))
    return found


def check(root):
    problems = []
    modules = set(os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(root, 'plugins', 'modules', '*.py')))

    for kind in ('filter', 'test'):
        for name, src in sorted(registered(root, kind).items()):
            if name == '<import error>':
                problems.append(src)
                continue
            doc_path = os.path.join('plugins', kind, name + '.yml')
            if name in modules:
                problems.append('%s: %s %s is named like the module plugins/modules/%s.py: rename the %s (and its uses)'
                                % (src, kind, name, name, kind))
            full = os.path.join(root, doc_path)
            if not os.path.exists(full):
                problems.append('%s: %s cnai.platform.%s is undocumented: write %s (DOCUMENTATION, EXAMPLES, RETURN; '
                                'example: plugins/filter/embedding_models.yml)' % (src, kind, name, doc_path))
                continue
            try:
                doc = (load_yaml(full) or {}).get('DOCUMENTATION') or {}
            except yaml.YAMLError as exc:
                problems.append('%s: not valid YAML: %s' % (doc_path, ' '.join(str(exc).split())))
                continue
            if doc.get('name') != name:
                problems.append('%s: DOCUMENTATION.name is %r, must be %r' % (doc_path, doc.get('name'), name))

    for role_dir in sorted(glob.glob(os.path.join(root, 'roles', '*', ''))):
        role = os.path.basename(os.path.dirname(role_dir))
        spec_path = os.path.join('roles', role, 'meta', 'argument_specs.yml')
        if not os.path.exists(os.path.join(root, spec_path)):
            if not os.path.exists(os.path.join(root, 'roles', role, 'meta', 'argument_specs.yaml')):
                problems.append('roles/%s: no meta/argument_specs.yml: document the role\'s variables there' % role)
            continue
        try:
            specs = (load_yaml(os.path.join(root, spec_path)) or {}).get('argument_specs') or {}
        except yaml.YAMLError as exc:
            problems.append('%s: not valid YAML: %s' % (spec_path, ' '.join(str(exc).split())))
            continue
        if 'main' not in specs:
            problems.append('%s: no "main" entry point' % spec_path)
        for entry, spec in specs.items():
            for item in templated((spec or {}).get('options'), entry):
                problems.append('%s: %s: argument_specs defaults must be literal; drop the default and say in the '
                                'description "Defaults to the value of C(<variable>)" (defaults/main.yml computes it; '
                                'python3 tools/docs/literal_defaults.py <file> does that)'
                                % (spec_path, item))

    for path in sorted(glob.glob(os.path.join(root, 'plugins', 'modules', '*.py'))):
        rel = os.path.relpath(path, root)
        try:
            doc = module_docs(path)
        except (SyntaxError, yaml.YAMLError) as exc:
            problems.append('%s: DOCUMENTATION cannot be read: %s' % (rel, ' '.join(str(exc).split())))
            continue
        if not doc:
            problems.append('%s: no DOCUMENTATION' % rel)
            continue
        fragments = doc.get('extends_documentation_fragment') or []
        if isinstance(fragments, str):
            fragments = [fragments]
        attrs = doc.get('attributes') or {}
        if 'cnai.platform.attributes' not in fragments:
            problems.append('%s: DOCUMENTATION must extend the doc fragment cnai.platform.attributes' % rel)
        for attr in ('check_mode', 'diff_mode'):
            if 'support' not in (attrs.get(attr) or {}):
                problems.append('%s: attributes.%s.support is not declared (full, partial or none)' % (rel, attr))
    return problems


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else '.')
    problems = check(root)
    for problem in problems:
        print('docs-lint: %s' % problem)
    if problems:
        print('docs-lint: %d problem(s) in the documentation house rules (tests/docs/check_docs.py)' % len(problems))
        return 1
    print('docs-lint: house rules ok (filters/tests documented and not named like modules, literal role '
          'defaults, module attributes)')
    return 0


if __name__ == '__main__':
    sys.exit(main())

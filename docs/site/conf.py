# Sphinx configuration of the cnai.platform docs site (docs/site/build.sh copies it into .cache/docs/src).
# Started from `antsibull-docs sphinx-init` (antsibull-docs 2.28.0); intersphinx is left out: the build runs
# offline, and references to other collections are rendered as links to docs.ansible.com by antsibull-docs.
project = 'cnai.platform'
copyright = 'cnai.platform contributors'
title = 'cnai.platform: an AI inference platform on NVIDIA GPUs'
html_short_title = 'cnai.platform'

extensions = ['sphinx.ext.autodoc', 'sphinx_antsibull_ext', 'myst_parser']
source_suffix = {'.rst': 'restructuredtext', '.md': 'markdown'}
root_doc = 'index'
exclude_patterns = ['_build']

pygments_style = 'ansible'
highlight_language = 'YAML+Jinja'

html_theme = 'sphinx_ansible_theme'
html_show_sphinx = False
display_version = False
html_use_smartypants = True
html_use_modindex = False
html_use_index = False
html_copy_source = False
html_theme_options = {
    'collapse_navigation': False,
    'show_extranav': False,
}
html_context = {
    'display_github': False,
    'current_version': '',
}

default_role = 'any'
nitpicky = True

# docs/runbooks.md: section anchors as GitHub makes them (the heading in lower case), so that an alert's
# runbook_url (observability_runbook_base_url + '#<alert name in lower case>') works on the site too.
myst_heading_anchors = 2

# Offline, there is no intersphinx inventory of docs.ansible.com: the references antsibull-docs writes to
# Ansible's own pages and to other collections' plugins are resolved here to their docs.ansible.com URLs.
# Any other unresolved reference stays a warning (and fails the -W build).
ANSIBLE_DOCS = 'https://docs.ansible.com/projects/ansible/latest/'
ANSIBLE_LABELS = {
    'common_return_values': 'reference_appendices/common_return_values.html',
    'ansible_configuration_settings': 'reference_appendices/config.html',
    'playbooks_variables': 'playbook_guide/playbooks_variables.html',
    'module_defaults': 'playbook_guide/playbooks_module_defaults.html',
}


def _ansible_docs_reference(app, env, node, contnode):
    import re

    from docutils import nodes

    target = node.get('reftarget', '')
    if target in ANSIBLE_LABELS:
        uri = ANSIBLE_DOCS + ANSIBLE_LABELS[target]
    else:
        match = re.match(r'^ansible_collections\.([a-z0-9_]+)\.([a-z0-9_]+)\.(.+)$', target)
        if not match or match.group(1) == 'cnai':
            return None
        uri = ANSIBLE_DOCS + 'collections/%s/%s/%s.html' % match.groups()
    ref = nodes.reference('', '', internal=False, refuri=uri)
    ref.append(contnode)
    return ref


def setup(app):
    app.connect('missing-reference', _ansible_docs_reference)

# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The attributes every cnai.platform module declares. A module extends this fragment and states only
its support level:

    extends_documentation_fragment:
      - cnai.platform.attributes
    attributes:
      check_mode:
        support: full
      diff_mode:
        support: none
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
options: {}
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
'''

    # extends_documentation_fragment: [cnai.platform.attributes, cnai.platform.attributes.facts]
    FACTS = r'''
options: {}
attributes:
  facts:
    description: Action returns an C(ansible_facts) dictionary that will update existing host facts.
'''

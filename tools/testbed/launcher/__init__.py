# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The testbed launcher, one concern per module: config (read once, in main), pki, processes, nodes, cli.

``tools/testbed/testbed.py`` is the entry point; it re-exports what tests use.
"""

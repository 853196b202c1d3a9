# -*- coding: utf-8 -*-
# Copyright: cnai.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of user input shared by the renderers: each raises the caller's error class with a message that
names the setting, so a role's failure says what to fix."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


def integer(value, what, minimum=None, maximum=None, error=ValueError):
    """``value`` as an int: ints and integral strings/floats pass, booleans and fractions do not.

    ``what`` names the setting in the message; ``minimum``/``maximum`` bound it (inclusive)."""
    try:
        if isinstance(value, bool):
            raise ValueError
        n = int(value)
        if float(value) != n:
            raise ValueError
    except (TypeError, ValueError):
        raise error('%s must be an integer, got %r' % (what, value))
    if minimum is not None and n < minimum:
        raise error('%s must be >= %d, got %d' % (what, minimum, n))
    if maximum is not None and n > maximum:
        raise error('%s must be <= %d, got %d' % (what, maximum, n))
    return n

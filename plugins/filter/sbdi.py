# -*- coding: utf-8 -*-
r"""The two decisions of the common role that depend on what a host holds now.

The rendering says what each host keeps (host.json ``expected``, MANIFEST.yml with each file's
sha1) and what sbdi.backup installs anywhere (``_plan.json``); only the host's present state is
left to Ansible, read by one remote command each, and these filters set the two side by side:

- ``MANIFEST | sbdi.backup.sbdi_to_install(lines)``: the ``file`` and ``sudoers`` entries whose
  copy is missing or differs in content, owner, group or mode, from the lines of
  ``sha1sum -- PATHS; echo '--- sbdi stat'; stat -c '%U %G %a %n' -- PATHS``.
- ``lines | sbdi.backup.sbdi_stale(plan, expected_files, expected_dirs)``: ``{files, dirs}`` that
  are ours and not expected, from the lines of ``find DIRS -maxdepth 1 -printf '%y %p\n'``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath

from ansible.errors import AnsibleFilterError

STAT_MARK = '--- sbdi stat'
INSTALLED_KINDS = ('file', 'sudoers')


def _unescape_sha1sum_name(name):
    # GNU sha1sum writes a name holding a backslash or a newline escaped, its line led by a backslash.
    out = []
    i = 0
    while i < len(name):
        c = name[i]
        if c == '\\' and i + 1 < len(name):
            nxt = name[i + 1]
            out.append({'n': '\n', 'r': '\r', '\\': '\\'}.get(nxt, '\\' + nxt))
            i += 2
            continue
        out.append(c)
        i += 1
    return ''.join(out)


def _parse_installed(lines):
    sums = {}
    stats = {}
    in_stat = False
    for line in lines or []:
        if not isinstance(line, str):
            raise AnsibleFilterError('sbdi_to_install: the installed state must be lines of text, got %r' % (line,))
        if line == STAT_MARK:
            in_stat = True
        elif in_stat:
            # "%U %G %a %n": owner and group hold no space; the name may.
            fields = line.split(' ', 3)
            if len(fields) == 4:
                try:
                    mode = int(fields[2], 8)
                except ValueError:
                    continue
                stats[fields[3]] = {'owner': fields[0], 'group': fields[1], 'mode': mode}
        else:
            escaped = line.startswith('\\')
            fields = (line[1:] if escaped else line).split('  ', 1)
            if len(fields) == 2:
                name = _unescape_sha1sum_name(fields[1]) if escaped else fields[1]
                sums[name] = fields[0].lower()
    return sums, stats


def _mode(entry):
    try:
        return int(str(entry['mode']), 8)
    except (KeyError, ValueError):
        raise AnsibleFilterError('sbdi_to_install: MANIFEST.yml entry %s has no octal mode: %r'
                                 % (entry.get('path'), entry.get('mode')))


def to_install(manifest, installed):
    """The manifest's file and sudoers entries whose installed copy is missing or differs."""
    if not isinstance(manifest, list):
        raise AnsibleFilterError('sbdi_to_install: expected the MANIFEST.yml list, got %s' % type(manifest).__name__)
    sums, stats = _parse_installed(installed)
    out = []
    for entry in manifest:
        if entry.get('kind') not in INSTALLED_KINDS:
            continue
        path = entry.get('path')
        want = entry.get('sha1')
        if not path or not want:
            raise AnsibleFilterError('sbdi_to_install: MANIFEST.yml entry %r has no path or no sha1: render it again' % (path,))
        st = stats.get(path)
        if (sums.get(path) != str(want).lower() or st is None or st['owner'] != entry.get('owner')
                or st['group'] != entry.get('group') or st['mode'] != _mode(entry)):
            out.append(entry)
    return out


def _parse_found(lines):
    files = set()
    dirs = set()
    for line in lines or []:
        if not isinstance(line, str):
            raise AnsibleFilterError('sbdi_stale: the found entries must be lines of text, got %r' % (line,))
        # "%y %p": one letter for the type, a space, the path.
        if len(line) < 3 or line[1] != ' ' or not line[2:].startswith('/'):
            continue
        (dirs if line[0] == 'd' else files).add(line[2:])
    return files, dirs


def stale(found, plan, expected_files, expected_dirs):
    """What is on the host, sbdi.backup's, and not expected there: {files, dirs}.

    A file is ours when some host of the plan gets it, or when it is in a directory every entry
    of which is ours; a directory when the plan owns it. Files inside a stale directory are left
    to its removal.
    """
    if not isinstance(plan, dict):
        raise AnsibleFilterError('sbdi_stale: expected the rendering\'s _plan.json, got %s' % type(plan).__name__)
    try:
        known_files = set(plan['files'])
        owned_dirs = set(plan['ownedDirs'])
        whole_dirs = set(plan['wholeDirs'])
    except (KeyError, TypeError):
        raise AnsibleFilterError('sbdi_stale: _plan.json lacks files, ownedDirs or wholeDirs: render it again')
    keep_files = set(expected_files or [])
    keep_dirs = set(expected_dirs or [])
    here_files, here_dirs = _parse_found(found)
    stale_dirs = sorted(d for d in here_dirs if d in owned_dirs and d not in keep_dirs)
    stale_files = sorted(
        f for f in here_files
        if f not in keep_files
        and (f in known_files or posixpath.dirname(f) in whole_dirs)
        and not any(f.startswith(d + '/') for d in stale_dirs)
    )
    return {'files': stale_files, 'dirs': stale_dirs}


class FilterModule(object):
    def filters(self):
        return {
            'sbdi_to_install': to_install,
            'sbdi_stale': stale,
        }

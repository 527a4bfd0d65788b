"""plugins/filter/sbdi.py on the inputs a host may give: run with the Python Ansible runs on
(`python3 -m unittest discover -s tests/unit/plugins`; tests/unit/plugins/filters.test.ts does)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', '..', 'plugins', 'filter'))

from ansible.errors import AnsibleFilterError  # noqa: E402

import sbdi  # noqa: E402

SUM_A = 'a' * 40
SUM_B = 'b' * 40


def entry(path, sha1=SUM_A, kind='file', mode='0755', owner='root', group='root'):
    e = {'path': path, 'src': path.lstrip('/'), 'owner': owner, 'group': group, 'mode': mode, 'kind': kind, 'purpose': 'x'}
    if sha1 is not None:
        e['sha1'] = sha1
    return e


def installed(files):
    """The remote command's lines for files given as {path: (sha1, owner, group, octal mode)}."""
    sums = ['%s  %s' % (v[0], p) for p, v in files.items()]
    stats = ['%s %s %s %s' % (v[1], v[2], v[3], p) for p, v in files.items()]
    return sums + [sbdi.STAT_MARK] + stats


class ToInstall(unittest.TestCase):
    def test_nothing_installed_yet_installs_every_file_and_sudoers_entry(self):
        manifest = [entry('/opt/x'), entry('/etc/sudoers.d/43', kind='sudoers', mode='0440'),
                    entry('/home/op/.ssh/authorized_keys', sha1=None, kind='authorized_keys', mode='0644')]
        self.assertEqual([e['path'] for e in sbdi.to_install(manifest, [])], ['/opt/x', '/etc/sudoers.d/43'])
        self.assertEqual([e['path'] for e in sbdi.to_install(manifest, None)], ['/opt/x', '/etc/sudoers.d/43'])

    def test_an_identical_copy_is_left_alone(self):
        manifest = [entry('/opt/x'), entry('/etc/s', kind='sudoers', mode='0440')]
        lines = installed({'/opt/x': (SUM_A, 'root', 'root', '755'), '/etc/s': (SUM_A, 'root', 'root', '440')})
        self.assertEqual(sbdi.to_install(manifest, lines), [])

    def test_content_owner_group_and_mode_each_make_a_difference(self):
        manifest = [entry('/a'), entry('/b'), entry('/c'), entry('/d')]
        lines = installed({
            '/a': (SUM_B, 'root', 'root', '755'),
            '/b': (SUM_A, 'backupoperator', 'root', '755'),
            '/c': (SUM_A, 'root', 'staff', '755'),
            '/d': (SUM_A, 'root', 'root', '775'),
        })
        self.assertEqual([e['path'] for e in sbdi.to_install(manifest, lines)], ['/a', '/b', '/c', '/d'])

    def test_modes_compare_as_numbers_and_special_bits_count(self):
        manifest = [entry('/a', mode='0644'), entry('/b', mode='644'), entry('/c', mode='0755')]
        lines = installed({'/a': (SUM_A, 'root', 'root', '644'), '/b': (SUM_A, 'root', 'root', '0644'),
                           '/c': (SUM_A, 'root', 'root', '4755')})
        self.assertEqual([e['path'] for e in sbdi.to_install(manifest, lines)], ['/c'])

    def test_paths_with_spaces(self):
        manifest = [entry('/opt/my dir/a b'), entry('/opt/my dir/c')]
        lines = installed({'/opt/my dir/a b': (SUM_A, 'root', 'root', '755'), '/opt/my dir/c': (SUM_B, 'root', 'root', '755')})
        self.assertEqual([e['path'] for e in sbdi.to_install(manifest, lines)], ['/opt/my dir/c'])

    def test_a_missing_stat_line_installs_the_file(self):
        manifest = [entry('/a'), entry('/b')]
        lines = ['%s  /a' % SUM_A, '%s  /b' % SUM_A, sbdi.STAT_MARK, 'root root 755 /a']
        self.assertEqual([e['path'] for e in sbdi.to_install(manifest, lines)], ['/b'])

    def test_without_the_stat_mark_nothing_counts_as_installed(self):
        manifest = [entry('/a')]
        self.assertEqual(len(sbdi.to_install(manifest, ['%s  /a' % SUM_A, 'root root 755 /a'])), 1)

    def test_a_missing_checksum_or_a_garbled_line_installs_the_file(self):
        manifest = [entry('/a'), entry('/b')]
        lines = ['%s /a' % SUM_A, 'garbage', '', sbdi.STAT_MARK, 'root root 755 /a', 'root root 7x5 /b', 'root root']
        self.assertEqual([e['path'] for e in sbdi.to_install(manifest, lines)], ['/a', '/b'])

    def test_sha1sum_escaped_names(self):
        manifest = [entry('/opt/a\\b'), entry('/opt/c\nd')]
        lines = ['\\%s  /opt/a\\\\b' % SUM_A, '\\%s  /opt/c\\nd' % SUM_A, sbdi.STAT_MARK,
                 'root root 755 /opt/a\\b', 'root root 755 /opt/c\nd']
        self.assertEqual(sbdi.to_install(manifest, lines), [])

    def test_upper_case_checksums_match(self):
        lines = installed({'/a': (SUM_A.upper(), 'root', 'root', '755')})
        self.assertEqual(sbdi.to_install([entry('/a', sha1=SUM_A)], lines), [])

    def test_an_entry_without_sha1_is_an_old_rendering(self):
        with self.assertRaisesRegex(AnsibleFilterError, 'no path or no sha1'):
            sbdi.to_install([entry('/a', sha1=None)], [])

    def test_a_bad_mode_or_input_is_refused(self):
        lines = installed({'/a': (SUM_A, 'root', 'root', '755')})
        with self.assertRaisesRegex(AnsibleFilterError, 'octal mode'):
            sbdi.to_install([entry('/a', mode='rwx')], lines)
        with self.assertRaises(AnsibleFilterError):
            sbdi.to_install({'path': '/a'}, [])
        with self.assertRaises(AnsibleFilterError):
            sbdi.to_install([entry('/a')], [42])


PLAN = {
    'hosts': ['a', 'b'],
    'files': ['/etc/sudoers.d/43-sbdi-backup', '/etc/sbdi/backup/push_ed25519', '/etc/sbdi/backup/push_ed25519.pub',
              '/home/op/.ssh/authorized_keys', '/opt/sbdi/backup/libexec/pause_containers', '/opt/sbdi/lib/log_utils'],
    'ownedDirs': ['/etc/sbdi/backup', '/opt/sbdi/backup/bin', '/opt/sbdi/backup/lib', '/opt/sbdi/backup/libexec'],
    'wholeDirs': ['/opt/sbdi/backup/bin', '/opt/sbdi/backup/libexec'],
    'scanDirs': [],
}


def found(*entries):
    return ['%s %s' % (k, p) for k, p in entries]


class Stale(unittest.TestCase):
    def test_nothing_stale_when_everything_is_expected(self):
        lines = found(('d', '/opt/sbdi/backup/libexec'), ('f', '/opt/sbdi/backup/libexec/pause_containers'),
                      ('f', '/etc/sudoers.d/43-sbdi-backup'), ('f', '/etc/sudoers.d/README'))
        self.assertEqual(sbdi.stale(lines, PLAN, ['/opt/sbdi/backup/libexec/pause_containers', '/etc/sudoers.d/43-sbdi-backup'],
                                    ['/opt/sbdi/backup/libexec']), {'files': [], 'dirs': []})

    def test_a_file_the_plan_installs_elsewhere_is_removed_and_others_are_not(self):
        lines = found(('f', '/etc/sudoers.d/43-sbdi-backup'), ('f', '/etc/sudoers.d/README'), ('f', '/opt/sbdi/lib/other'))
        self.assertEqual(sbdi.stale(lines, PLAN, [], []), {'files': ['/etc/sudoers.d/43-sbdi-backup'], 'dirs': []})

    def test_any_file_in_a_whole_dir_is_ours(self):
        lines = found(('d', '/opt/sbdi/backup/libexec'), ('f', '/opt/sbdi/backup/libexec/old_capsule'),
                      ('l', '/opt/sbdi/backup/libexec/a link'), ('f', '/opt/sbdi/backup/libexec/pause_containers'))
        self.assertEqual(sbdi.stale(lines, PLAN, ['/opt/sbdi/backup/libexec/pause_containers'], ['/opt/sbdi/backup/libexec']),
                         {'files': ['/opt/sbdi/backup/libexec/a link', '/opt/sbdi/backup/libexec/old_capsule'], 'dirs': []})

    def test_a_dir_no_longer_expected_goes_with_its_files(self):
        lines = found(('d', '/etc/sbdi/backup'), ('f', '/etc/sbdi/backup/push_ed25519'), ('f', '/etc/sbdi/backup/push_ed25519.pub'),
                      ('d', '/opt/sbdi/backup/libexec'), ('f', '/opt/sbdi/backup/libexec/stop_docker'))
        self.assertEqual(sbdi.stale(lines, PLAN, [], ['/opt/sbdi/backup/libexec']),
                         {'files': ['/opt/sbdi/backup/libexec/stop_docker'], 'dirs': ['/etc/sbdi/backup']})

    def test_a_decommissioned_host_loses_everything_of_ours(self):
        lines = found(('d', '/opt/sbdi/backup/libexec'), ('f', '/opt/sbdi/backup/libexec/x'), ('f', '/etc/sudoers.d/43-sbdi-backup'),
                      ('f', '/home/op/.ssh/authorized_keys'), ('f', '/home/op/.ssh/known_hosts_of_the_user'), ('d', '/opt/sbdi/lib'))
        self.assertEqual(sbdi.stale(lines, PLAN, [], []),
                         {'files': ['/etc/sudoers.d/43-sbdi-backup', '/home/op/.ssh/authorized_keys'],
                          'dirs': ['/opt/sbdi/backup/libexec']})

    def test_paths_with_spaces_and_unusual_lines(self):
        lines = ['f /opt/sbdi/backup/bin/my command', '', 'f', 'x', 'f relative/path', 'd  /opt/sbdi/backup/lib',
                 'find: /nonexistent: No such file or directory', 'd /opt/sbdi/backup/bin']
        self.assertEqual(sbdi.stale(lines, PLAN, [], ['/opt/sbdi/backup/bin']),
                         {'files': ['/opt/sbdi/backup/bin/my command'], 'dirs': []})

    def test_a_dir_prefix_is_not_a_parent(self):
        lines = found(('d', '/etc/sbdi/backup'), ('f', '/etc/sbdi/backup2/push_ed25519'))
        plan = dict(PLAN, files=PLAN['files'] + ['/etc/sbdi/backup2/push_ed25519'])
        self.assertEqual(sbdi.stale(lines, plan, [], []), {'files': ['/etc/sbdi/backup2/push_ed25519'], 'dirs': ['/etc/sbdi/backup']})

    def test_duplicates_are_reported_once_and_sorted(self):
        lines = found(('f', '/opt/sbdi/backup/bin/b'), ('f', '/opt/sbdi/backup/bin/a'), ('f', '/opt/sbdi/backup/bin/b'))
        self.assertEqual(sbdi.stale(lines, PLAN, None, None)['files'], ['/opt/sbdi/backup/bin/a', '/opt/sbdi/backup/bin/b'])

    def test_an_old_rendering_is_refused(self):
        with self.assertRaisesRegex(AnsibleFilterError, 'render it again'):
            sbdi.stale([], {'hosts': []}, [], [])
        with self.assertRaises(AnsibleFilterError):
            sbdi.stale([], None, [], [])
        with self.assertRaises(AnsibleFilterError):
            sbdi.stale([None], PLAN, [], [])


class Module(unittest.TestCase):
    def test_names_the_two_filters(self):
        self.assertEqual(sorted(sbdi.FilterModule().filters()), ['sbdi_stale', 'sbdi_to_install'])


if __name__ == '__main__':
    unittest.main()

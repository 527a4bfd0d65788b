#!/bin/bash
# Installs one host's rendered files (`sbdi-backup render` output for that host, copied to DIR)
# inside a throwaway test container, the way the role does: files at their paths, the operator
# without a password, the sources' root-only keys, authorized_keys with the key tokens replaced,
# known_hosts for the target. Only for hosts that are both source and target (storage tests:
# the source's rsync reaches the target's forced commands over ssh to 127.0.0.1), and for an
# off-site remote whose authorized_keys names another host's key (TOKENS: lines
# `@@KEY:<host>:<name>@@ <type> <base64>`, e.g. the target's replicate key).
#   install-host.sh DIR [TOKENS]
set -euo pipefail
dir=${1:?usage: install-host.sh DIR [TOKENS]}
tokens=${2:-}
cd "$dir"
host=$(python3 -c 'import json,sys; print(json.load(open("host.json"))["name"])')

getent group backupoperator >/dev/null || groupadd -g 1901 backupoperator
getent passwd backupoperator >/dev/null || useradd -u 1901 -g 1901 -m -d /home/backupoperator -s /bin/bash backupoperator
usermod -p '*' backupoperator
# The account the push, pull and replicate keys log in as (targets and remotes), its home root's.
if python3 -c 'import json,sys; sys.exit(0 if "receiver" in json.load(open("host.json")) else 1)'; then
  getent group sbdi-receive >/dev/null || groupadd -g 1902 sbdi-receive
  getent passwd sbdi-receive >/dev/null || useradd -u 1902 -g 1902 -M -d /var/lib/sbdi-receive -s /bin/sh sbdi-receive
  usermod -p '*' sbdi-receive
  install -d -m 0755 /var/lib/sbdi-receive /var/lib/sbdi-receive/.ssh
fi

# MANIFEST.yml is simple enough to read without a YAML library: path, src, mode per entry.
python3 - <<'PY'
import os, re, shutil
entries, cur = [], None
for line in open("MANIFEST.yml"):
    m = re.match(r'^- path: (.*)$', line)
    if m:
        cur = {"path": m.group(1).strip('"')}
        entries.append(cur)
        continue
    m = re.match(r'^  (src|mode): "?([^"]*)"?$', line.rstrip("\n"))
    if m and cur is not None:
        cur[m.group(1)] = m.group(2)
for e in entries:
    os.makedirs(os.path.dirname(e["path"]), exist_ok=True)
    shutil.copyfile(e["src"], e["path"])
    os.chmod(e["path"], int(e["mode"], 8))
    os.chown(e["path"], 0, 0)
PY
visudo -cf /etc/sudoers.d/43-sbdi-backup >/dev/null

install -d -m 0700 /etc/sbdi/backup
# Every root-owned key host.json lists (push, pull, replicate), made as the role makes them.
mapfile -t own_keys < <(python3 -c 'import json; [print(k["name"], k["path"]) for k in json.load(open("host.json"))["keys"] if k["owner"] == "root"]')
install -d -m 0755 -o root -g root /home/backupoperator/.ssh
for entry in "${own_keys[@]}"; do
  name=${entry%% *} path=${entry#* }
  [ -f "$path" ] || ssh-keygen -q -t ed25519 -N '' -C "sbdi-backup ${name} ${host}" -f "$path"
done
for keys in /home/backupoperator/.ssh/authorized_keys /var/lib/sbdi-receive/.ssh/authorized_keys; do
  [ -f "$keys" ] || continue
  for entry in "${own_keys[@]}"; do
    name=${entry%% *} path=${entry#* }
    pub=$(cut -d' ' -f1,2 "${path}.pub")
    sed -i "s|@@KEY:${host}:${name}@@|${pub}|" "$keys"
  done
  if [ -n "$tokens" ]; then
    while read -r token type b64; do
      sed -i "s|${token}|${type} ${b64}|" "$keys"
    done <"$tokens"
  fi
  sed -i '/@@KEY:/d' "$keys"
  chown root:root "$keys"
  chmod 0644 "$keys"
done

mkdir -p /run/sshd
pgrep -x sshd >/dev/null || { ssh-keygen -A >/dev/null && /usr/sbin/sshd; }
printf '127.0.0.1 %s\n' "$(cut -d' ' -f1,2 /etc/ssh/ssh_host_ed25519_key.pub)" >/etc/sbdi/backup/known_hosts
chmod 0600 /etc/sbdi/backup/known_hosts
for n in $(seq 0 63); do [ -e "/dev/loop$n" ] || mknod -m 0660 "/dev/loop$n" b 7 "$n"; done
[ -e /dev/btrfs-control ] || mknod -m 0600 /dev/btrfs-control c 10 234
echo "installed ${host}"

#!/bin/bash
# Runs inside the test VM (piped over ssh: `bash -s -- STEP ARGS`): lays out the seed's production
# storage on the empty data disk /dev/vdb and plays the parts around a source for its capsules.
#
#   lvm SIZE                 vg_docker_local/lv_docker_local (ext4, SIZE e.g. 2G) mounted at /docker_local
#   gluster HOST POOL BRICK  thin pool vg_gluster/tp_docker (POOL) with a thin LV brick (BRICK, xfs) at
#                            /bricks/docker, glusterd, one-node volume `docker` on HOST:/bricks/docker/brick,
#                            mounted at /docker
#   self-target TREE         this VM as its own backup target for TREE: user sbdi-receive whose key
#                            (/etc/sbdi/backup/push_ed25519) may only `rrsync -wo /backup/current/TREE` (as receive_backup),
#                            and uat-backup-target resolving to 127.0.0.1 in root's sbdi known_hosts
#   target-at NAME IP        NAME resolves to IP (a real target reached from the VM)
#   keys                     the source's root-only push/pull keys (printed: the public push key)
#   fill DIR MB              write MB of fresh random data into a new file under DIR and sync
set -euo pipefail
step=$1
shift
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

keys() {
  install -d -m 0700 /etc/sbdi/backup
  for k in push pull; do
    [ -f "/etc/sbdi/backup/${k}_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C "sbdi-$k" -f "/etc/sbdi/backup/${k}_ed25519"
  done
}

case "$step" in
  lvm)
    size=$1
    pvcreate -q /dev/vdb >/dev/null
    vgcreate -q vg_docker_local /dev/vdb >/dev/null
    lvcreate -q -y -L "$size" -n lv_docker_local vg_docker_local >/dev/null
    mkfs.ext4 -q /dev/vg_docker_local/lv_docker_local
    mkdir -p /docker_local
    mount /dev/vg_docker_local/lv_docker_local /docker_local
    ;;
  gluster)
    host=$1 pool=$2 brick=$3
    pvcreate -q /dev/vdb >/dev/null
    vgcreate -q vg_gluster /dev/vdb >/dev/null
    lvcreate -q -y -L "$pool" --thinpool tp_docker vg_gluster >/dev/null
    lvcreate -q -y -V "$brick" --thin -n lv_brick_docker vg_gluster/tp_docker >/dev/null
    mkfs.xfs -q -i size=512 /dev/vg_gluster/lv_brick_docker
    mkdir -p /bricks/docker /docker
    mount /dev/vg_gluster/lv_brick_docker /bricks/docker
    mkdir -p /bricks/docker/brick
    /usr/sbin/glusterd -p /run/glusterd.pid
    for _ in $(seq 1 60); do gluster --mode=script pool list >/dev/null 2>&1 && break; sleep 0.5; done
    gluster --mode=script volume create docker "$host:/bricks/docker/brick" force >/dev/null
    gluster --mode=script volume start docker >/dev/null
    # acl: the platform's applications set ACLs on the live volume (a glusterfs mount without it drops them).
    for _ in $(seq 1 60); do mount -t glusterfs -o acl localhost:/docker /docker 2>/dev/null && break; sleep 0.5; done
    mountpoint -q /docker
    ;;
  keys)
    keys
    cat /etc/sbdi/backup/push_ed25519.pub
    ;;
  self-target)
    tree=$1
    keys
    id sbdi-receive >/dev/null 2>&1 || useradd -M -d /var/lib/sbdi-receive -u 1902 -U -s /bin/sh sbdi-receive
    install -d -m 0755 /var/lib/sbdi-receive /var/lib/sbdi-receive/.ssh
    install -d -o sbdi-receive -g sbdi-receive "/backup/current/$tree"
    # As receive_backup does: rsync sends --modify-window=-1 as "-@-1", which rrsync refuses in
    # that form and passes in the long one.
    cat >/usr/local/bin/sbdi-self-target <<'EOF'
#!/bin/bash
c=" ${SSH_ORIGINAL_COMMAND:-} "
c=${c// -@-1 / --modify-window=-1 }
SSH_ORIGINAL_COMMAND=${c:1:${#c}-2} exec /usr/bin/rrsync -wo "$1"
EOF
    chmod 0755 /usr/local/bin/sbdi-self-target
    echo "command=\"/usr/local/bin/sbdi-self-target /backup/current/$tree\",restrict $(cat /etc/sbdi/backup/push_ed25519.pub)" \
      >/var/lib/sbdi-receive/.ssh/authorized_keys
    echo "127.0.0.1 uat-backup-target" >>/etc/hosts
    echo "uat-backup-target $(cat /etc/ssh/ssh_host_ed25519_key.pub)" >/etc/sbdi/backup/known_hosts
    ;;
  target-at)
    echo "$2 $1" >>/etc/hosts
    ;;
  fill)
    dir=$1 mb=$2
    mkdir -p "$dir"
    n=$(find "$dir" -maxdepth 1 -name 'blob-*' | wc -l)
    head -c $((mb * 1048576)) /dev/urandom >"$dir/blob-$((n + 1))"
    sync
    ;;
  *)
    echo "provision.sh: unknown step $step" >&2
    exit 2
    ;;
esac

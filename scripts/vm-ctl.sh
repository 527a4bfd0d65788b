#!/bin/bash
# Boots, reaches and stops sbdi.backup test VMs: Debian's own kernel under qemu software emulation
# (this machine's kernel has no device-mapper; -enable-kvm hangs), built by scripts/vm-build.sh.
#
#   scripts/vm-ctl.sh up   [NAME] [--hostname H] [--data-size 4G] [--mem 1536] [--smp 2] [--port P]
#                          [--netns PID --addr IP]
#   scripts/vm-ctl.sh ssh  [NAME] [COMMAND...]      root shell (or command) in the VM
#   scripts/vm-ctl.sh scp  [NAME] SRC... DEST       copy into the VM (DEST is a path in the VM)
#   scripts/vm-ctl.sh down [NAME]                   stop it and delete its disks
#   scripts/vm-ctl.sh status                        running VMs: name, pid, port
#   scripts/vm-ctl.sh env  [NAME]                   shell assignments: VM_ADDR VM_PORT VM_KEY VM_KNOWN_HOSTS VM_DIR
#
# NAME defaults to "vm". Every VM gets a throwaway copy-on-write overlay of the cached root image
# and an empty data disk (/dev/vdb, sparse). Its only network is qemu user mode: the VM's ssh is
# forwarded to 127.0.0.1:PORT (loopback only), the VM sees the host's loopback as 10.0.2.2.
# --netns PID runs qemu in the network namespace of process PID (a sandbox container's): the VM's
# ssh is then forwarded on that namespace's address --addr IP (port 22 unless --port), and the VM's
# outgoing connections leave from that address, so on the container's network the VM stands in
# for the container (user mode networking needs no privileges in the VM's path, no tap, no bridge).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cache_root=${SBDI_VM_CACHE:-$repo/.cache/vm}
run_root=$cache_root/run

die() { echo "vm: $*" >&2; exit 1; }
usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

cmd=${1:-}; [ -n "$cmd" ] || usage; shift
name=vm
if [ $# -gt 0 ] && [[ $1 != -* ]] && [ "$cmd" != status ]; then name=$1; shift; fi
[[ $name =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] || die "bad VM name '$name'"
dir=$run_root/$name

running() { [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; }
image() { cat "$dir/image" 2>/dev/null || die "VM '$name' is not up (scripts/vm-ctl.sh up $name)"; }
ssh_opts() {
  local img; img=$(image)
  printf '%s\n' -p "$(cat "$dir/port")" -i "$img/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes \
    -o HostKeyAlias=sbdi-vm -o StrictHostKeyChecking=yes -o "UserKnownHostsFile=$img/known_hosts" \
    -o ConnectTimeout=10 -o ServerAliveInterval=10 -o LogLevel=ERROR \
    -o ControlMaster=auto -o "ControlPath=$dir/ssh.sock" -o ControlPersist=300
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

case "$cmd" in
  up)
    hostname=$name data_size=4G mem=1536 smp=2 port='' netns='' addr=127.0.0.1
    while [ $# -gt 0 ]; do
      case "$1" in
        --hostname) hostname=$2; shift 2 ;;
        --data-size) data_size=$2; shift 2 ;;
        --mem) mem=$2; shift 2 ;;
        --smp) smp=$2; shift 2 ;;
        --port) port=$2; shift 2 ;;
        --netns) netns=$2; shift 2 ;;
        --addr) addr=$2; shift 2 ;;
        *) usage ;;
      esac
    done
    [[ $hostname =~ ^[a-zA-Z0-9][a-zA-Z0-9.-]*$ ]] || die "bad hostname '$hostname'"
    [[ $addr =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || die "bad --addr '$addr': an IPv4 address"
    [ -z "$port" ] || [[ $port =~ ^[0-9]{1,5}$ ]] || die "bad --port '$port'"
    netenter=()
    if [ -n "$netns" ]; then
      { [[ $netns =~ ^[0-9]+$ ]] && [ -e "/proc/$netns/ns/net" ]; } || die "bad --netns '$netns': the pid of a running process"
      [ "$addr" != 127.0.0.1 ] || die "--netns needs --addr: the namespace's address to forward ssh on"
      netenter=(nsenter "--net=/proc/$netns/ns/net")
      port=${port:-22}
    elif [ "$addr" != 127.0.0.1 ]; then
      die "--addr needs --netns (without it ssh is forwarded on loopback only)"
    fi
    running && die "VM '$name' is already up (port $(cat "$dir/port"))"
    img=$("$repo/scripts/vm-build.sh")
    rm -rf "$dir"; mkdir -p "$dir"
    echo "$img" >"$dir/image"
    echo "$addr" >"$dir/addr"
    qemu-img create -q -f qcow2 -b "$img/rootfs.img" -F raw "$dir/root.qcow2"
    qemu-img create -q -f qcow2 "$dir/data.qcow2" "$data_size"
    t0=$(date +%s.%N)
    # A port found free can be taken (by any outgoing connection's local port) before qemu binds
    # it; qemu then refuses to start ("Could not set up host forwarding rule"). A port of our own
    # choosing is tried again with another; a port given with --port is not.
    for attempt in 1 2 3 4 5; do
      try_port=${port:-$(free_port)}
      echo "$try_port" >"$dir/port"
      if "${netenter[@]}" qemu-system-x86_64 -nodefaults -machine pc -accel tcg,thread=multi -cpu max -smp "$smp" -m "$mem" \
        -kernel "$img/vmlinuz" -initrd "$img/initrd.img" \
        -append "console=ttyS0 root=/dev/vda rw panic=-1 net.ifnames=0 quiet sbdi.hostname=$hostname" \
        -drive "file=$dir/root.qcow2,if=virtio,format=qcow2,cache=unsafe" \
        -drive "file=$dir/data.qcow2,if=virtio,format=qcow2,cache=unsafe" \
        -netdev "user,id=n0,hostfwd=tcp:$addr:$try_port-:22" -device virtio-net-pci,netdev=n0 \
        -display none -monitor none -serial "file:$dir/console.log" -no-reboot \
        -daemonize -pidfile "$dir/pid"; then
        break
      fi
      if [ -n "$port" ] || [ "$attempt" -eq 5 ]; then
        rm -rf "$dir"
        die "qemu did not start VM '$name' with ssh forwarded on $addr:$try_port (is the port taken?)"
      fi
      echo "vm: qemu did not start with ssh on port $try_port (attempt $attempt): trying another port" >&2
    done
    port=$try_port
    mapfile -t opts < <(ssh_opts)
    for _ in $(seq 1 600); do
      running || { tail -n 40 "$dir/console.log" >&2; die "VM '$name' stopped while booting (console: $dir/console.log)"; }
      if grep -q SBDI-VM-READY "$dir/console.log" 2>/dev/null && ssh "${opts[@]}" "root@$addr" true 2>/dev/null; then
        echo "vm: $name up in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s: ssh port $port (scripts/vm-ctl.sh ssh $name)" >&2
        exit 0
      fi
      sleep 0.5
    done
    tail -n 40 "$dir/console.log" >&2
    die "VM '$name' did not come up in 300 s (console: $dir/console.log)"
    ;;
  ssh)
    mapfile -t opts < <(ssh_opts)
    if [ $# -eq 0 ]; then exec ssh -t "${opts[@]}" "root@$(cat "$dir/addr")"; fi
    exec ssh "${opts[@]}" "root@$(cat "$dir/addr")" "$@"
    ;;
  scp)
    [ $# -ge 2 ] || usage
    mapfile -t opts < <(ssh_opts)
    dest=${*: -1}
    set -- "${@:1:$#-1}"
    opts=("${opts[@]/#-p/-P}")
    exec scp -q -r "${opts[@]}" "$@" "root@$(cat "$dir/addr"):$dest"
    ;;
  env)
    img=$(image)
    printf 'VM_ADDR=%s\nVM_PORT=%s\nVM_KEY=%s\nVM_KNOWN_HOSTS=%s\nVM_DIR=%s\n' "$(cat "$dir/addr")" "$(cat "$dir/port")" "$img/id_ed25519" "$img/known_hosts" "$dir"
    ;;
  down)
    if running; then
      pid=$(cat "$dir/pid")
      kill "$pid"
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    fi
    rm -rf "$dir"
    ;;
  status)
    [ -d "$run_root" ] || exit 0
    for d in "$run_root"/*/; do
      [ -d "$d" ] || continue
      n=$(basename "$d")
      if [ -f "$d/pid" ] && kill -0 "$(cat "$d/pid")" 2>/dev/null; then
        echo "$n pid=$(cat "$d/pid") addr=$(cat "$d/addr" 2>/dev/null || echo 127.0.0.1) port=$(cat "$d/port")"
      else
        echo "$n stopped"
      fi
    done
    ;;
  *) usage ;;
esac

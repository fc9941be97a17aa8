#!/usr/bin/env bash
# A single-node Slurm on this machine, for the sweep tests: `.ci/slurm.sh start` writes a minimal
# slurm.conf under $SLURM_DIR (default /tmp/senet-ort-slurm), starts munged, slurmctld and slurmd,
# and waits until the node takes jobs; `.ci/slurm.sh stop` stops exactly those daemons (by the pids
# they wrote) and leaves nothing running. Clients find the cluster through SLURM_CONF:
#   export SLURM_CONF=$SLURM_DIR/slurm.conf
# Needs root and Debian's packages: apt-get install -y slurm-wlm munge
set -euo pipefail
dir="${SLURM_DIR:-/tmp/senet-ort-slurm}"
conf="$dir/slurm.conf"

stop_pid() { # name pidfile
  local pid
  [ -f "$2" ] || return 0
  pid=$(cat "$2")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$2"
  echo "slurm.sh: stopped $1 ($pid)"
}

case "${1:-}" in
start)
  command -v slurmctld >/dev/null || { echo "slurm.sh: slurmctld not found; apt-get install -y slurm-wlm munge" >&2; exit 1; }
  mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$dir/munge"
  host=$(hostname -s)
  cpus=$(nproc)
  mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))
  cat >"$conf" <<EOF
ClusterName=senet-ort-ci
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
ReturnToService=2
MinJobAge=600
DefMemPerCPU=1024
KillWait=10
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  # munge: the packaged key (made by the package's install script), else a fresh one.
  key="$dir/munge/munge.key"
  if [ -f /etc/munge/munge.key ]; then cp /etc/munge/munge.key "$key"; else dd if=/dev/urandom bs=1 count=1024 of="$key" 2>/dev/null; fi
  chmod 600 "$key"
  mkdir -p /run/munge
  munged --force --key-file="$key" --pid-file="$dir/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/seed"
  export SLURM_CONF="$conf"
  slurmctld -f "$conf"
  slurmd -f "$conf"
  for _ in $(seq 100); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
      echo "slurm.sh: single-node Slurm up on $host ($cpus CPUs, ${mem} MB); export SLURM_CONF=$conf"
      exit 0
    fi
    sleep 0.3
  done
  echo "slurm.sh: the node did not come up; see $dir/log/" >&2
  sinfo -N -l >&2 || true
  tail -20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
  exit 1
  ;;
stop)
  export SLURM_CONF="$conf"
  [ -f "$conf" ] && scancel --user="$(id -un)" 2>/dev/null || true
  stop_pid slurmd "$dir/slurmd.pid"
  stop_pid slurmctld "$dir/slurmctld.pid"
  stop_pid munged "$dir/munged.pid"
  ;;
*)
  echo "usage: .ci/slurm.sh start|stop   (SLURM_DIR=$dir)" >&2
  exit 2
  ;;
esac

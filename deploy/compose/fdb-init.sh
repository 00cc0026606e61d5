#!/bin/bash
# One-shot init step of the compose demo, run in the foundationdb image
# (service fdb-init). It waits for the fdb service to write the cluster
# file, creates the database once (`configure new single ssd`; on later
# runs FoundationDB answers that the database already exists, which is
# fine), and hands the cluster file's directory to the Strongroom user
# (uid 10001), because FoundationDB clients want to be able to rewrite the
# cluster file when the coordinators change.
set -euo pipefail

cluster_file=${FDB_CLUSTER_FILE:?FDB_CLUSTER_FILE is not set}
strongroom_uid=${STRONGROOM_UID:-10001}

for _ in $(seq 1 60); do
	[ -s "$cluster_file" ] && break
	sleep 1
done
if [ ! -s "$cluster_file" ]; then
	echo "fdb-init: no cluster file at $cluster_file after 60 s" >&2
	exit 1
fi
echo "fdb-init: cluster file: $(cat "$cluster_file")"

configured=false
for _ in $(seq 1 30); do
	if out=$(fdbcli -C "$cluster_file" --timeout 30 --exec "configure new single ssd" 2>&1); then
		echo "$out"
		configured=true
		break
	fi
	echo "$out"
	case $out in
	*"already exists"*)
		echo "fdb-init: the database already exists"
		configured=true
		break
		;;
	esac
	sleep 2
done
if [ "$configured" != true ]; then
	echo "fdb-init: could not configure the database" >&2
	exit 1
fi

chown -R "$strongroom_uid:$strongroom_uid" "$(dirname "$cluster_file")"
fdbcli -C "$cluster_file" --timeout 30 --exec "status minimal"

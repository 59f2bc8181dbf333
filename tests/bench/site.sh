# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by tests/bench/guard.sh and flood.sh (after common.sh and
# nslab_up): the guarded site both measure, and the helpers both use.
# bench_site_up TOKEN CONNECTIONS ACCESS_LOG LISTEN_OPTS: a webroot with the
# token's directory, nginx (one worker, CONNECTIONS, access log ACCESS_LOG or
# "off") in a cgroup of its own (SRV_CG) in the lab host, listening on $H:80
# with LISTEN_OPTS; sets WWW, TOK, SRV_CG; returns once it listens.
bench_site_up() {
	TOK=$1
	WWW=$T_TMP/www
	mkdir -p "$WWW/.well-known/acme-challenge" "$T_TMP/nginx"
	chmod 755 "$T_TMP" "$WWW"
	SRV_CG=$T_CG2/$T_PFX-nginx
	mkdir -p "$SRV_CG" && T_CGROUPS+=("$SRV_CG")
	cat >"$T_TMP/nginx/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
user root;
pid $T_TMP/nginx/nginx.pid;
error_log $T_TMP/nginx/error.log;
events { worker_connections $2; }
http {
	access_log $3;
	client_body_temp_path $T_TMP/nginx/body;
	server { listen $H:80$4; root $WWW; }
}
EOF
	(
		echo $BASHPID >"$SRV_CG/cgroup.procs"
		exec nsenter --net=/run/netns/"$T_PFX-host" -- nginx -c "$T_TMP/nginx/nginx.conf" -p "$T_TMP/nginx"
	) >"$T_TMP/nginx/out" 2>&1 &
	T_PIDS+=("$!")
	for _ in $(seq 50); do in_host ss -ltn | grep -q "$H:80" && return 0; sleep 0.1; done
	return 1
}

# DELTA A B: B against A in percent ("+1.5%"; "n/a" when A is 0)
# bench_row MEASURE VALUE: one row of a bench table (the measure left, padded)
bench_row() { printf '%-66s %s\n' "$1" "$2"; }
delta() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%+.1f%%", (b - a) / a * 100; else print "n/a" }'; }

# median of the numbers on stdin
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2); else print "n/a" }'; }

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# nginx_conf.sh DIR TEMP WWW V4 V6 [LINE...]: print a private nginx.conf (no
# include of /etc/nginx) for the e2e and systemd tiers: one worker as root,
# pid, logs in DIR, temporary files in TEMP, a server on V4:80 and [V6]:80
# with root WWW; each LINE goes into the http block as it is. Callers put
# what differs (daemon off; master_process on;) before it themselves.
set -e
dir=$1 tmp=$2 www=$3 v4=$4 v6=$5
shift 5
cat <<EOF
worker_processes 1;
user root;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 64; }
http {
	access_log $dir/access.log;
	client_body_temp_path $tmp/body;
	proxy_temp_path $tmp/proxy;
	fastcgi_temp_path $tmp/fastcgi;
	uwsgi_temp_path $tmp/uwsgi;
	scgi_temp_path $tmp/scgi;
EOF
for line in "$@"; do printf '\t%s\n' "$line"; done
cat <<EOF
	server {
		listen $v4:80;
		listen [$v6]:80;
		root $www;
		location ^~ /.well-known/acme-challenge/ { default_type text/plain; }
	}
}
EOF

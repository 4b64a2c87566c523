#!/usr/bin/env bash
# scripts/cassandra.sh — run a real Apache Cassandra 5.0.x on loopback from the
# Maven Central jars (no tarball, no Docker), for kv/cassandra's tests and
# benchmarks.
#
#   scripts/cassandra.sh start [-n N]   start N nodes (default 1) on 127.0.0.1..N:9042,
#                                       wait until each answers, print the contact points
#   scripts/cassandra.sh stop           stop the nodes this script started (by their pids; the
#                                       data is thrown away, the next start wipes it)
#   scripts/cassandra.sh kill I         SIGKILL node I (fault tests)
#   scripts/cassandra.sh restart I      start node I again after a stop or kill
#   scripts/cassandra.sh status         list nodes and whether they run
#   scripts/cassandra.sh env            print EDGEKIT_CASSANDRA=... for the running nodes
#
# Tests read the contact points from EDGEKIT_CASSANDRA, e.g.
#   eval "$(scripts/cassandra.sh start)"; go test ./kv/cassandra/
#
# Environment:
#   CASSANDRA_VERSION  cassandra-all version on Maven Central (default 5.0.9; 5.0.x runs on JDK 17, 4.1 does not)
#   CASSANDRA_HOME     work directory: configs, data, logs, pids (default <repo>/.cassandra, git-ignored)
#   CASSANDRA_CACHE    jar closure and JVM class-data archive, kept across runs and clones
#                      (default ${XDG_CACHE_HOME:-~/.cache}/edgekit-cassandra)
#   CASSANDRA_IP_BASE  node i listens on 127.0.0.(BASE+i-1) (default 1, ccm's layout); a second
#                      cluster beside a running one can use e.g. 11
#   CASSANDRA_HEAP     heap per node (default 512m)
#   JAVA               java binary (default: a JDK 17 — JAVA_HOME, /usr/lib/jvm/java-17-*, or java on PATH)
#
# The jar closure is fetched once with Maven (so it is also cached in ~/.m2)
# and copied into $CASSANDRA_CACHE/lib-<version>. Data is wiped on every start:
# these nodes are test fixtures, not a database to keep.
#
# Start is tuned for speed on 2 cores: no gossip settle wait, a 1 s ring delay,
# single tokens with auto_bootstrap off (ccm's populate pattern), no flush of
# the system keyspaces on a one-node cluster, small memtables and caches, and an AppCDS archive of
# the JVM's loaded classes that is written on the first start and reused after.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION="${CASSANDRA_VERSION:-5.0.9}"
W="${CASSANDRA_HOME:-$ROOT/.cassandra}"
HEAP="${CASSANDRA_HEAP:-512m}"
CACHE="${CASSANDRA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/edgekit-cassandra}"
LIB="$CACHE/lib-$VERSION"
# A running cluster's layout is remembered, so stop/kill/restart need no flags.
IP_BASE="${CASSANDRA_IP_BASE:-$(cat "$W/ip_base" 2>/dev/null || echo 1)}"
START_TIMEOUT="${CASSANDRA_START_TIMEOUT:-180}"

# Balanced Murmur3 tokens for up to 3 nodes (one token each, as ccm does).
TOKENS=(-9223372036854775808 -3074457345618258603 3074457345618258602)

die() { echo "cassandra.sh: $*" >&2; exit 1; }
log() { echo "cassandra.sh: $*" >&2; }

find_java() {
	if [ -n "${JAVA:-}" ]; then echo "$JAVA"; return; fi
	local j
	for j in ${JAVA_HOME:+"$JAVA_HOME/bin/java"} /usr/lib/jvm/java-17-openjdk-*/bin/java /usr/lib/jvm/*17*/bin/java; do
		[ -x "$j" ] && { echo "$j"; return; }
	done
	command -v java || die "no java found (install openjdk-17-jre-headless)"
}

# fetch_jars puts the runtime closure of cassandra-all into $LIB, once.
fetch_jars() {
	[ -f "$LIB/.complete" ] && return 0
	command -v mvn >/dev/null || die "mvn not found (install maven) — needed once to fetch cassandra-all $VERSION"
	mkdir -p "$CACHE/fetch"
	cat > "$CACHE/fetch/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
 <groupId>local.edgekit</groupId><artifactId>cassandra-runner</artifactId><version>0</version><packaging>pom</packaging>
 <dependencies><dependency><groupId>org.apache.cassandra</groupId><artifactId>cassandra-all</artifactId>
   <version>$VERSION</version></dependency></dependencies></project>
EOF
	log "fetching cassandra-all $VERSION and its runtime dependencies from Maven Central"
	rm -rf "$LIB.tmp"
	mvn -B -q -f "$CACHE/fetch/pom.xml" dependency:copy-dependencies \
		-DoutputDirectory="$LIB.tmp" -DincludeScope=runtime >&2 || die "maven fetch failed"
	# Native jars for other platforms only slow class loading down.
	rm -f "$LIB.tmp"/*-osx-*.jar "$LIB.tmp"/*-windows-*.jar "$LIB.tmp"/*-linux-aarch_64.jar "$LIB.tmp"/*-linux-riscv64.jar
	touch "$LIB.tmp/.complete"
	rm -rf "$LIB"
	mv "$LIB.tmp" "$LIB"
}

write_conf() {
	mkdir -p "$W/conf"
	# Logs go to a file at INFO; the console stays quiet (stdout.log keeps only JVM noise).
	cat > "$W/conf/logback.xml" <<'EOF'
<configuration>
 <appender name="F" class="ch.qos.logback.core.FileAppender">
  <file>${cassandra.logdir}/system.log</file>
  <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
 </appender>
 <root level="INFO"><appender-ref ref="F"/></root>
</configuration>
EOF
}

# node_yaml I N writes node I's cassandra.yaml for an N-node cluster.
node_yaml() {
	local i=$1 n=$2 ip d="$W/node$1"
	ip="$(ip_of "$i")"
	cat > "$d/cassandra.yaml" <<EOF
cluster_name: edgekit_test
num_tokens: 1
initial_token: ${TOKENS[$((i-1))]}
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: SimpleSnitch
listen_address: $ip
rpc_address: $ip
storage_port: 7000
native_transport_port: 9042
start_native_transport: true
auto_bootstrap: false
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "$(ip_of 1):7000"
data_file_directories: [$d/data/data]
commitlog_directory: $d/data/commitlog
saved_caches_directory: $d/data/saved_caches
hints_directory: $d/data/hints
cdc_raw_directory: $d/data/cdc_raw
commitlog_sync: periodic
commitlog_sync_period: 10000ms
auto_snapshot: false
incremental_backups: false
snapshot_before_compaction: false
memtable_allocation_type: heap_buffers
memtable_heap_space: 64MiB
disk_access_mode: standard
key_cache_size: 8MiB
counter_cache_size: 0MiB
file_cache_size: 32MiB
concurrent_reads: 8
concurrent_writes: 8
concurrent_counter_writes: 4
concurrent_compactors: 1
hinted_handoff_enabled: true
max_hint_window: 1h
authenticator: AllowAllAuthenticator
authorizer: AllowAllAuthorizer
dynamic_snitch: false
EOF
}

jvm_opts() {
	local i=$1
	local jamm
	jamm="$(ls "$LIB"/jamm-*.jar | head -1)"
	# conf/jvm-server.options + conf/jvm17-server.options of Cassandra 5.0,
	# minus AlwaysPreTouch (slow start) and with a small fixed heap.
	JOPTS=(
		-Xms"$HEAP" -Xmx"$HEAP" -Xss256k
		-XX:+UseG1GC -XX:+ParallelRefProcEnabled -XX:MaxTenuringThreshold=1
		-XX:G1RSetUpdatingPauseTimePercent=5 -XX:MaxGCPauseMillis=300 -XX:InitiatingHeapOccupancyPercent=70
		-XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath="$W/node$i/logs" -XX:+PerfDisableSharedMem
		-XX:+UseTLAB -XX:+ResizeTLAB
		-ea -da:net.openhft...
		-javaagent:"$jamm"
		-Djdk.attach.allowAttachSelf=true
		--add-exports java.base/jdk.internal.misc=ALL-UNNAMED
		--add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
		--add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED
		--add-exports java.rmi/sun.rmi.server=ALL-UNNAMED
		--add-exports java.sql/java.sql=ALL-UNNAMED
		--add-exports java.base/java.lang.ref=ALL-UNNAMED
		--add-exports jdk.unsupported/sun.misc=ALL-UNNAMED
		--add-exports jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED
		--add-exports jdk.attach/sun.tools.attach=ALL-UNNAMED
		--add-exports java.management/com.sun.jmx.remote.security=ALL-UNNAMED
		--add-opens java.base/java.lang.module=ALL-UNNAMED
		--add-opens java.base/jdk.internal.loader=ALL-UNNAMED
		--add-opens java.base/jdk.internal.ref=ALL-UNNAMED
		--add-opens java.base/jdk.internal.reflect=ALL-UNNAMED
		--add-opens java.base/jdk.internal.math=ALL-UNNAMED
		--add-opens java.base/jdk.internal.module=ALL-UNNAMED
		--add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED
		--add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
		--add-opens java.base/sun.nio.ch=ALL-UNNAMED
		--add-opens java.base/java.io=ALL-UNNAMED
		--add-opens java.base/java.lang.reflect=ALL-UNNAMED
		--add-opens jdk.compiler/com.sun.tools.javac=ALL-UNNAMED
		--add-opens java.base/java.lang=ALL-UNNAMED
		--add-opens java.base/java.util=ALL-UNNAMED
		--add-opens java.base/java.nio=ALL-UNNAMED
		-Dio.netty.tryReflectionSetAccessible=true
		-Dio.netty.allocator.useCacheForAllThreads=true
		-Dio.netty.allocator.maxOrder=11
		-Djava.net.preferIPv4Stack=true
		-Dcassandra.config="file://$W/node$i/cassandra.yaml"
		-Dcassandra.storagedir="$W/node$i/data"
		-Dcassandra.logdir="$W/node$i/logs"
		-Dlogback.configurationFile="$W/conf/logback.xml"
		-Dcassandra-foreground=yes
		-Dcassandra.jmx.local.port=$((7099 + (IP_BASE + i - 1) * 100))
		-Dcom.sun.management.jmxremote.authenticate=false
		# Fast start: these are the knobs ccm and Cassandra's own tests turn.
		-Dcassandra.skip_wait_for_gossip_to_settle=0
		-Dcassandra.ring_delay_ms=1000
		-Dcassandra.superuser_setup_delay_ms=0
		-Dcassandra.migration_task_wait_in_seconds=2
		-Dcassandra.available_processors=2
	)
}

ip_of() { echo "127.0.0.$((IP_BASE + $1 - 1))"; }

answers() { (exec 3<>"/dev/tcp/$1/9042") 2>/dev/null; }

running() { local p; p="$(cat "$W/node$1/pid" 2>/dev/null)" && kill -0 "$p" 2>/dev/null; }

# launch_node I N [fresh] starts node I's JVM in the background.
launch_node() {
	local i=$1 n=$2 fresh=${3:-fresh} d="$W/node$1" java
	java="$(find_java)"
	running "$i" && die "node$i already runs (pid $(cat "$d/pid")); stop it first"
	if [ "$fresh" = fresh ]; then rm -rf "$d"; fi
	mkdir -p "$d/data" "$d/logs"
	node_yaml "$i" "$n"
	jvm_opts "$i"
	# unsafesystem skips the flushes of the system keyspaces (schema changes
	# get much cheaper), but a SIGKILLed node then forgets its schema. Only
	# the one-node fixture, which is never restarted, uses it.
	if [ "$n" = 1 ]; then JOPTS+=(-Dcassandra.unsafesystem=true); fi
	# AppCDS: the first start records the classes it loads into an archive;
	# later starts map it and skip most class loading and verification.
	local cds="$CACHE/cds-$VERSION.jsa"
	if [ "${CASSANDRA_CDS:-1}" = 1 ]; then
		JOPTS+=(-XX:+UnlockDiagnosticVMOptions -XX:+AllowArchivingWithJavaAgent)
		if [ -f "$cds" ]; then
			JOPTS+=(-XX:SharedArchiveFile="$cds" -Xshare:auto)
		elif [ "$i" = 1 ]; then
			# Written when this JVM exits; stop_node waits for it and
			# renames it into place, so a killed JVM leaves no torn archive.
			rm -f "$cds.tmp"
			JOPTS+=(-XX:ArchiveClassesAtExit="$cds.tmp")
			touch "$d/cds-pending"
		fi
	fi
	# setsid puts the node in its own process group, so a Ctrl-C in the
	# caller's terminal does not kill it; we stop it by pid.
	setsid "$java" "${JOPTS[@]}" -cp "$LIB/*" org.apache.cassandra.service.CassandraDaemon \
		> "$d/logs/stdout.log" 2>&1 < /dev/null &
	echo $! > "$d/pid"
}

wait_node() {
	local i=$1 ip t0 d="$W/node$1"
	ip="$(ip_of "$i")"
	t0=$(date +%s%N)
	while ! answers "$ip"; do
		if ! running "$i"; then
			tail -n 30 "$d/logs/stdout.log" "$d/logs/system.log" >&2 2>/dev/null || true
			die "node$i exited during start (logs in $d/logs)"
		fi
		if (( ($(date +%s%N) - t0) / 1000000000 > START_TIMEOUT )); then
			tail -n 30 "$d/logs/system.log" >&2 2>/dev/null || true
			die "node$i did not open $ip:9042 within ${START_TIMEOUT}s"
		fi
		sleep 0.2
	done
	log "node$i up on $ip:9042 after $(( ($(date +%s%N) - t0) / 1000000 )) ms (pid $(cat "$d/pid"))"
}

contact_points() {
	local out="" i
	for i in $(node_list); do out+="${out:+,}$(ip_of "$i"):9042"; done
	echo "$out"
}

node_list() { local p; for p in "$W"/node*/pid; do [ -e "$p" ] || continue; p="${p%/pid}"; echo "${p##*/node}"; done | sort -n; }

cmd_start() {
	local n=1 i
	while getopts "n:" o; do case $o in n) n=$OPTARG ;; *) die "usage: start [-n N]" ;; esac; done
	[[ "$n" =~ ^[1-3]$ ]] || die "-n must be 1, 2 or 3"
	for i in $(node_list); do running "$i" && die "node$i already runs; run '$0 stop' first"; done
	rm -rf "$W"/node*
	fetch_jars
	write_conf
	echo "$n" > "$W/nodes"
	echo "$IP_BASE" > "$W/ip_base"
	local t0; t0=$(date +%s%N)
	# Seed first, then the others one at a time: two nodes joining at once
	# with auto_bootstrap off is allowed, but sequential joins keep gossip quiet.
	for i in $(seq 1 "$n"); do
		launch_node "$i" "$n"
		wait_node "$i"
	done
	log "cluster of $n up after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
	echo "export EDGEKIT_CASSANDRA=$(contact_points)"
}

stop_node() {
	local i=$1 sig=${2:-TERM} p d="$W/node$1" wait=100
	p="$(cat "$d/pid" 2>/dev/null)" || return 0
	# A JVM writing its class-data archive at exit gets longer to finish.
	[ -e "$d/cds-pending" ] && [ "$sig" = TERM ] && wait=900
	if kill -0 "$p" 2>/dev/null; then
		kill -s "$sig" "$p" 2>/dev/null || true
		local k
		for k in $(seq 1 "$wait"); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$p" 2>/dev/null; then kill -KILL "$p" 2>/dev/null || true; fi
	fi
	if [ -e "$d/cds-pending" ]; then
		local cds="$CACHE/cds-$VERSION.jsa"
		if [ "$sig" = TERM ] && [ -s "$cds.tmp" ]; then mv -f "$cds.tmp" "$cds"; else rm -f "$cds.tmp"; fi
		rm -f "$d/cds-pending"
	fi
}

cmd_stop() {
	local i sig
	for i in $(node_list); do
		# The next start wipes the data anyway, so there is nothing to
		# drain or flush: SIGKILL is instant where a clean shutdown takes
		# seconds. Only a JVM still to write its class-data archive gets
		# SIGTERM (the archive is written by a clean exit).
		sig=KILL
		[ -e "$W/node$i/cds-pending" ] && sig=TERM
		stop_node "$i" "$sig"
		rm -f "$W/node$i/pid"
	done
}

cmd_kill() {
	[ -n "${1:-}" ] || die "usage: kill I"
	stop_node "$1" KILL
	log "node$1 killed"
}

cmd_restart() {
	[ -n "${1:-}" ] || die "usage: restart I"
	local n; n="$(cat "$W/nodes" 2>/dev/null || echo 1)"
	launch_node "$1" "$n" keep
	wait_node "$1"
}

cmd_status() {
	local i
	for i in $(node_list); do
		if running "$i"; then echo "node$i $(ip_of "$i"):9042 pid $(cat "$W/node$i/pid") running"
		else echo "node$i $(ip_of "$i"):9042 stopped"; fi
	done
}

case "${1:-}" in
	start) shift; cmd_start "$@" ;;
	stop) cmd_stop ;;
	kill) shift; cmd_kill "$@" ;;
	restart) shift; cmd_restart "$@" ;;
	status) cmd_status ;;
	env) echo "export EDGEKIT_CASSANDRA=$(contact_points)" ;;
	fetch) fetch_jars; echo "$LIB" ;;
	*) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac

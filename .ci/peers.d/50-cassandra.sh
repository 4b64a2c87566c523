# .ci/peers.d/50-cassandra.sh — sourced by .ci/run.
# Starts one Apache Cassandra 5.0 node on 127.0.0.1:9042 from the Maven
# Central jars (scripts/cassandra.sh; needs java 17 and mvn, both listed in
# .ci/apt-packages) so kv/cassandra's conformance suite runs against a real
# server, and exports the contact points the tests read.
export CASSANDRA_HOME="$CI_WORK/cassandra"
cassandra_env="$(scripts/cassandra.sh start)"
eval "$cassandra_env"
# Stops only the pids the script recorded under $CASSANDRA_HOME.
ci_on_exit "CASSANDRA_HOME='$CASSANDRA_HOME' scripts/cassandra.sh stop"
echo "cassandra: EDGEKIT_CASSANDRA=$EDGEKIT_CASSANDRA"

# Sourced by ./diffuse, examples/run and ./test.sh: when a TornadoVM SDK is installed (TORNADOVM_HOME or /opt/tornadovm),
# build the TornadoVM backend (Maven profile "tornado"); TD_TORNADO_ARGFILE is the SDK's JVM options file
# (scripts/launch.sh gives it to the JVM when the TornadoVM device is used).
TD_MAVEN_PROFILES=""
TD_TORNADO_ARGFILE=""
if [ -z "${TORNADOVM_HOME:-}" ] && [ -d /opt/tornadovm ]; then TORNADOVM_HOME=/opt/tornadovm; fi
if [ -n "${TORNADOVM_HOME:-}" ] && [ -f "$TORNADOVM_HOME/tornado-argfile" ]; then
  export TORNADOVM_HOME
  TD_MAVEN_PROFILES="-Ptornado"
  TD_TORNADO_ARGFILE="$TORNADOVM_HOME/tornado-argfile"
fi

# Sourced by ./diffuse and ./test.sh: when a TornadoVM SDK is installed (TORNADOVM_HOME or /opt/tornadovm),
# build the TornadoVM backend (Maven profile "tornado") and give the JVM the SDK's options.
TD_MAVEN_PROFILES=""
TD_JAVA_OPTS=""
if [ -z "${TORNADOVM_HOME:-}" ] && [ -d /opt/tornadovm ]; then TORNADOVM_HOME=/opt/tornadovm; fi
if [ -n "${TORNADOVM_HOME:-}" ] && [ -f "$TORNADOVM_HOME/tornado-argfile" ]; then
  export TORNADOVM_HOME
  TD_MAVEN_PROFILES="-Ptornado"
  TD_JAVA_OPTS="@$TORNADOVM_HOME/tornado-argfile"
fi

# Sourced by ./diffuse and examples/run (after tornado.sh): what the JVM gets besides the project's own flags.

# The TornadoVM SDK's JVM options (its module path, --enable-preview, JVMCI) only for a run that uses the TornadoVM
# device: the commands that are about devices, or --device tornado. Everything else runs on the plain JDK.
td_tornado_opts=()
td_wants_tornado() {
  case "${1:-}" in devices|bench-device) return 0 ;; esac
  local prev=""
  for a in "$@"; do
    if [ "$a" = "--device=tornado" ] || { [ "$prev" = "--device" ] && [ "$a" = "tornado" ]; }; then return 0; fi
    prev="$a"
  done
  return 1
}
if [ -n "$TD_TORNADO_ARGFILE" ] && td_wants_tornado "$@"; then td_tornado_opts=("@$TD_TORNADO_ARGFILE"); fi

# The JDK writes "WARNING: Using incubator modules: jdk.incubator.vector" first on stderr whenever the Vector API is
# added, and has no switch to turn it off; this filter drops exactly that first line and passes the rest through as
# it comes. It ignores Ctrl-C so that the JVM's last words still get through.
td_drop_incubator_warning() {
  trap '' INT TERM
  local first
  if IFS= read -r first; then
    [ "$first" = "WARNING: Using incubator modules: jdk.incubator.vector" ] || printf '%s\n' "$first"
  else
    printf '%s' "$first"
  fi
  exec cat
}

# Runs java with ARGS, its stderr through the filter; returns when both are done (not exec: the filter's last lines
# must be out before the caller sees the exit code), with java's exit code. java runs in the background with Ctrl-C
# restored (a script's background jobs ignore it; it reaches java directly, one process group), so that a TERM or HUP
# sent to this script (./diffuse serve & ... kill $!) is passed on to it.
td_java() {
  local status=0 filter java
  exec 9> >(td_drop_incubator_warning >&2)
  filter=$!
  ( trap - INT QUIT; exec "$JAVA_HOME/bin/java" "$@" 2>&9 9>&- ) <&0 &
  java=$!
  trap 'kill -TERM "$java" 2>/dev/null' TERM HUP
  trap '' INT
  while :; do
    status=0
    wait "$java" || status=$?
    kill -0 "$java" 2>/dev/null || break   # else a trapped signal ended the wait: wait again for java's exit code
  done
  exec 9>&-
  wait "$filter" 2>/dev/null || true
  return $status
}

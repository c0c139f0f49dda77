#!/usr/bin/env bash
# Runs the whole test suite with a JDK >= 25; adds the TornadoVM tests when an SDK is installed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"
. scripts/jdk.sh
. scripts/tornado.sh
if [ -n "$TD_MAVEN_PROFILES" ]; then
  echo "test.sh: TornadoVM SDK found at $TORNADOVM_HOME: the TornadoVM backend tests run too (bailouts fatal)."
else
  echo "test.sh: no TornadoVM SDK (set TORNADOVM_HOME or install at /opt/tornadovm): TornadoVM backend tests are SKIPPED."
fi
exec ./mvnw -B $TD_MAVEN_PROFILES verify "$@"

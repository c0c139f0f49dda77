# Sourced by ./diffuse and examples/run (after jdk.sh and tornado.sh, with $root set): builds the project on first use
# or when sources changed or a TornadoVM SDK appeared or went away (the stamp records the Maven profiles it was built
# with), and leaves each module's runtime classpath in MODULE/target/classpath.txt.
stamp="$root/cli/target/.diffuse-built"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "profiles: $TD_MAVEN_PROFILES" ] || [ ! -f "$root/cli/target/classpath.txt" ] || [ ! -f "$root/examples/target/classpath.txt" ] \
   || [ -n "$(find "$root" \( -path '*/src/main/*' -o -path '*/src/tornado/java/*' -o -name pom.xml -o -name tornado.properties \) -newer "$stamp" -print -quit 2>/dev/null)" ]; then
  echo "diffuse: building the project with Maven (first use, changed sources or TornadoVM SDK; takes a few minutes)..." >&2
  if ! (cd "$root" && ./mvnw -q -B $TD_MAVEN_PROFILES -DskipTests package dependency:build-classpath \
        -Dmdep.outputFile=target/classpath.txt -Dmdep.includeScope=runtime >"$root/target-build.log" 2>&1); then
    echo "diffuse: build failed; see $root/target-build.log" >&2
    exit 1
  fi
  rm -f "$root/target-build.log"
  echo "profiles: $TD_MAVEN_PROFILES" >"$stamp"
fi

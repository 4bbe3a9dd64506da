# syntax=docker/dockerfile:1
# certgate: build with the full toolchain, run with production dependencies only, as a non-root user.

# --- build -------------------------------------------------------------------------------------
FROM node:20-slim AS build
WORKDIR /app
# Dependencies first: this layer is reused until package*.json change.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
# tsc, then the non-TS assets (Redis Lua scripts) next to the compiled code; then drop devDependencies.
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# --- runtime -----------------------------------------------------------------------------------
FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The embedded default config (config/dev.yaml) and the `certgate` bin shim with the script it runs
# first (it builds only where src/ exists, so here it goes straight to dist/), as in the package.
COPY config ./config
COPY bin ./bin
COPY scripts ./scripts

# A fixed, unprivileged uid/gid, so volume ownership is predictable across hosts. keys.dir is a
# volume in production: signing keys must survive restarts and be shared by every replica.
RUN groupadd --system --gid 10001 certgate \
 && useradd --system --uid 10001 --gid certgate --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin certgate \
 && mkdir -p /var/lib/certgate/keys /etc/certgate \
 && chown -R certgate:certgate /var/lib/certgate
USER certgate

EXPOSE 8080
# Liveness of the HTTP listener. CERTGATE_HEALTH_URL follows a non-default server.port/host.
ENV CERTGATE_HEALTH_URL=http://127.0.0.1:8080/healthz
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "require('http').get(process.env.CERTGATE_HEALTH_URL, (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))"]

# Not `npm start`: its prestart step rebuilds from src/, which the runtime image does not have.
# glibc malloc arenas: see MALLOC_ARENAS in src/util/heap-settings.ts.
ENV MALLOC_ARENA_MAX=2
ENTRYPOINT ["node", "--max-semi-space-size=8", "dist/cli/main.js"]
CMD ["serve", "--config", "/etc/certgate/certgate.yaml"]

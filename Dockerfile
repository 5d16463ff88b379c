# Production image: the API only. Point it at your PostgreSQL with DATABASE_URL
# (as ticketing_authenticator) and JWT_SECRET; run `npm run db:setup` or
# `npm run db:migrate` once per release with the owner/root URLs (see README).

FROM node:24-bookworm-slim AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only; optional ones are the embedded PostgreSQL
# binaries, which a container never needs.
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund && npm cache clean --force

FROM node:24-bookworm-slim
# HOST: a container serves the network (outside a container the default is 127.0.0.1).
ENV NODE_ENV=production \
    GRAPHILE_ENV=production \
    HOST=0.0.0.0 \
    PORT=5678
# Transparent huge pages for glibc's malloc: each argon2id hash allocates 64 MiB
# and would otherwise fault it in 4 KiB pages, 16 384 faults per login. Same
# parameters, same memory; 2.2 times the logins per second where faults are
# dear (docs/performance.md, "Password hashing and page faults"). A kernel with
# transparent huge pages off ignores it.
ENV GLIBC_TUNABLES=glibc.malloc.hugetlb=1
WORKDIR /app
COPY --from=dependencies --chown=node:node /app/node_modules ./node_modules
COPY --chown=node:node package.json .gmrc ./
COPY --chown=node:node src ./src
COPY --chown=node:node migrations ./migrations
USER node
EXPOSE 5678
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.PORT + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The API's memory budget (docs/performance.md, "Memory"): the same V8 flags as
# `npm start`, which test/abuse/memory-budget.test.ts keeps in agreement.
CMD ["node", "--max-old-space-size=192", "--max-semi-space-size=8", "src/cli/start.ts"]

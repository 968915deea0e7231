# The OptiBid image: the `optibid` CLI with every workspace built. Used by docker-compose for the
# schema registry, the API and pipeline workers.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY . .
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
WORKDIR /app
COPY --from=build /app /app
USER node
ENTRYPOINT ["node", "cli/bin/optibid.js"]

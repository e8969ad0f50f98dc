# This repository's local Cosmos DB (NoSQL API) server as a compose service: the npm package
# @vercel/cosmosdb-server plus dev/cosmos-emulator/launcher.js (keep-alive, 404s, partition-scoped
# queries, transactional batch, TTL, 413). In memory: a restart empties it.
FROM node:20.18-alpine3.20
WORKDIR /srv/cosmos
COPY dev/cosmos-emulator/package.json dev/cosmos-emulator/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error
COPY dev/cosmos-emulator/launcher.js ./
USER node
EXPOSE 8081
# --host cosmos: the server advertises its own address to the SDK's endpoint discovery.
CMD ["node", "launcher.js", "--host", "cosmos", "--port", "8081", "--no-ssl"]

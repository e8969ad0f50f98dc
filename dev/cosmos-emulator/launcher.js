#!/usr/bin/env node
/*
 * ThreatStream's local Cosmos DB (NoSQL API) server for tests and the demo.
 *
 * Starts the unmodified `@vercel/cosmosdb-server` 1.0.1 and fixes, at runtime,
 * the gaps that matter to the Python azure-cosmos SDK (see
 * /work/shared/reference/cosmos-emulator.md):
 *
 *   1. keep-alive instead of `connection: close`
 *   2. point read/replace/delete of a missing id or wrong partition key -> 404 NotFound
 *   3. queries scoped to the `x-ms-documentdb-partitionkey` header; cross-partition
 *      queries run over all documents (and a pass-through query plan if asked)
 *   4. transactional batch: create/upsert/replace/read/delete/patch with the header's
 *      partition key, all-or-nothing, <= 100 operations, one partition key
 *   5. TTL (container `defaultTtl`, item `ttl`): expired documents are swept every
 *      second and before every request that touches their container
 *   6. 413 RequestEntityTooLarge for a request body > 2 MB
 *   7. `--no-ssl` advertises http:// locations in the account metadata (GET /)
 *   8. test-only endpoints: POST /_emulator/reset, GET /_emulator/health
 *
 * How: the package's request handler looks its collaborators up on module objects
 * at call time (`routes_1.default(req)`, `json_1.default(req)`,
 * `new account_1.default(...)`), so we replace those exports before the server
 * starts: a router that tries our routes first and wraps every handler, a JSON
 * body reader with the size limit, and an Account subclass.
 *
 * Usage: node launcher.js --port PORT --host 127.0.0.1 [--no-ssl] [--exit-on-stdin-close]
 * (port 0 picks a free port; --exit-on-stdin-close lets a parent process that holds
 * our stdin pipe stop us even if it dies without cleaning up). Prints one line when ready:
 *   Ready to accept HTTP connections at http://127.0.0.1:PORT
 * Set COSMOS_EMULATOR_DEBUG=1 to log every request to stderr.
 */
"use strict";

const path = require("path");

const LIB = path.join(path.dirname(require.resolve("@vercel/cosmosdb-server/package.json")), "lib");
const lib = name => require(path.join(LIB, name));
const readItems = lib("handler/_read-items").default; // paging + x-ms-continuation
const { patchOperation } = lib("handler/_patch-operations");

const MAX_BODY_BYTES = 2 * 1024 * 1024; // real service: item <= 2 MB, request <= 2 MB
const MAX_BATCH_OPERATIONS = 100;
const TTL_SWEEP_INTERVAL_MS = 1000;
const DEBUG = Boolean(process.env.COSMOS_EMULATOR_DEBUG);

// ---------------------------------------------------------------- CLI arguments

function parseArgs(argv) {
  const args = { port: 0, host: "127.0.0.1", ssl: true, exitOnStdinClose: false };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === "--port" || arg === "-p") args.port = parseInt(argv[++i], 10);
    else if (arg === "--host") args.host = argv[++i];
    else if (arg === "--no-ssl") args.ssl = false;
    else if (arg === "--exit-on-stdin-close") args.exitOnStdinClose = true;
    else if (arg === "--help" || arg === "-h") {
      console.log("Usage: node launcher.js --port PORT --host HOST [--no-ssl] [--exit-on-stdin-close]");
      process.exit(0);
    } else {
      console.error(`unknown argument: ${arg}`);
      process.exit(2);
    }
  }
  if (!Number.isInteger(args.port) || args.port < 0 || args.port > 65535) {
    console.error("--port must be an integer between 0 and 65535");
    process.exit(2);
  }
  return args;
}

const args = parseArgs(process.argv.slice(2));

// ---------------------------------------------------------------- small helpers

/** An error the route wrapper turns into a JSON response `{code, message}`. */
class HttpError extends Error {
  constructor(statusCode, code, message) {
    super(message);
    this.statusCode = statusCode;
    this.code = code;
  }
}

const notFound = () =>
  new HttpError(404, "NotFound", "Entity with the specified id does not exist in the system.");
const badRequest = message => new HttpError(400, "BadRequest", message);

/** Read the request body as JSON; 413 above 2 MB, 400 for malformed JSON. */
function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on("data", chunk => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on("error", reject);
    req.on("end", () => {
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, "RequestEntityTooLarge",
          `Request size is too large (${size} bytes, the limit is ${MAX_BODY_BYTES}).`));
        return;
      }
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8") || "null"));
      } catch (err) {
        reject(badRequest(`The request payload is invalid: ${err.message}`));
      }
    });
  });
}

function deepEqual(a, b) {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every(k => deepEqual(a[k], b[k]));
}

function getValue(segments, obj) {
  return segments.reduce((o, k) => (o !== null && typeof o === "object" ? o[k] : undefined), obj);
}

// ---------------------------------------------------------------- partition keys

/** The container's partition key paths as segment lists, e.g. [["tenant"]]. */
function pkPaths(collection) {
  const { paths } = (collection.read() || {}).partitionKey || {};
  if (!paths || !paths.length || paths[0] === "/_partitionKey") return [["id"]];
  return paths.map(p => p.slice(1).split("/"));
}

/**
 * The partition key the SDK sent in `x-ms-documentdb-partitionkey` (a JSON array,
 * `[{}]` meaning "undefined"), or null when the header is absent.
 */
function headerPk(req) {
  const raw = req.headers["x-ms-documentdb-partitionkey"];
  if (raw === undefined) return null;
  let values;
  try {
    values = JSON.parse(Array.isArray(raw) ? raw[0] : raw);
  } catch (err) {
    throw badRequest(`Invalid partition key header: ${raw}`);
  }
  return Array.isArray(values) ? values : [values];
}

const isUndefinedMarker = v =>
  v !== null && typeof v === "object" && !Array.isArray(v) && !Object.keys(v).length;

/** Does the document's partition key (prefix) equal the header values? */
function pkMatches(collection, doc, values) {
  return pkPaths(collection).every((segments, i) => {
    if (i >= values.length) return true; // hierarchical key prefix
    const actual = getValue(segments, doc);
    return isUndefinedMarker(values[i]) ? actual === undefined : deepEqual(actual, values[i]);
  });
}

/** The value the package's index uses for the partition (it indexes `partition || id`). */
function indexPartition(values) {
  const first = values && values.length ? values[0] : undefined;
  return first !== null && typeof first === "object" ? undefined : first;
}

/** Live (not expired) document `id` in partition `values` (null: any), or undefined. */
function findDoc(collection, id, values) {
  const doc = collection.documents._item("/id", id, indexPartition(values)).read();
  if (!doc || doc.id !== id || isExpired(collection, doc)) return undefined;
  return values === null || pkMatches(collection, doc, values) ? doc : undefined;
}

// ---------------------------------------------------------------- TTL

// Write time (ms) of each stored document object: `_ts` has only 1 s resolution.
const writtenAt = new WeakMap();
// Per collection: the defaultTtl seen by the last sweep and the earliest expiry after it,
// so a request only scans the container when something may actually have expired.
const sweepState = new WeakMap();

const Documents = lib("account/documents").default;
const stockSet = Documents.prototype._set;
Documents.prototype._set = function setAndStamp(data) {
  if (!writtenAt.has(data)) writtenAt.set(data, Date.now()); // a rollback re-sets old objects
  const state = sweepState.get(this._parent);
  if (state) state.nextExpiry = Math.min(state.nextExpiry, expiresAt(this._parent, data));
  return stockSet.call(this, data);
};

/**
 * When `doc` expires (ms epoch), or Infinity. TTL is off unless the container has
 * `defaultTtl`; the item's `ttl` overrides it; -1 means never.
 */
function expiresAt(collection, doc) {
  const { defaultTtl } = collection.read() || {};
  if (defaultTtl === undefined || defaultTtl === null) return Infinity;
  const ttl = typeof doc.ttl === "number" ? doc.ttl : defaultTtl;
  if (!(ttl > 0)) return Infinity;
  return (writtenAt.get(doc) || doc._ts * 1000) + ttl * 1000;
}

const isExpired = (collection, doc) => expiresAt(collection, doc) <= Date.now();

/** Delete the collection's expired documents (cheap when nothing can have expired). */
function sweepCollection(collection) {
  const data = collection.read();
  if (!data || data.defaultTtl === undefined || data.defaultTtl === null) return;
  const now = Date.now();
  const state = sweepState.get(collection);
  if (state && state.defaultTtl === data.defaultTtl && now < state.nextExpiry) return;
  let nextExpiry = Infinity;
  for (const item of [...collection.documents._data.values()]) {
    const doc = item.read();
    const expiry = expiresAt(collection, doc);
    if (expiry <= now) collection.documents.delete(doc._rid);
    else nextExpiry = Math.min(nextExpiry, expiry);
  }
  sweepState.set(collection, { defaultTtl: data.defaultTtl, nextExpiry });
}

function* allCollections(account) {
  for (const db of account.databases._data.values()) yield* db.collections._data.values();
}

// ---------------------------------------------------------------- document operations

/** Run one document operation (point request or batch entry); returns {statusCode, body}. */
function applyOperation(collection, op, values) {
  const { operationType, resourceBody: doc, ifMatch } = op;
  const id = op.id !== undefined ? op.id : doc && doc.id;
  if (typeof id !== "string" || !id) {
    throw badRequest("The input content is invalid because the required property 'id' is missing.");
  }
  if (doc && operationType !== "Patch") {
    if (typeof doc !== "object" || Array.isArray(doc)) throw badRequest("The document must be an object.");
    if (doc.id !== id) throw badRequest("The id in the URL/operation and in the document body differ.");
    if (values !== null && !pkMatches(collection, doc, values)) {
      throw badRequest("PartitionKey extracted from document doesn't match the one specified in the header.");
    }
  }
  // Without a partition key header (create/upsert), locate the document by its own key.
  const lookup = values !== null ? values : doc ? [getValue(pkPaths(collection)[0], doc)] : null;
  const existing = findDoc(collection, id, lookup);
  if (ifMatch && existing && existing._etag !== ifMatch && operationType !== "Create") {
    throw new HttpError(412, "PreconditionFailed",
      "Operation cannot be performed because one of the specified precondition is not met.");
  }
  const docs = collection.documents;
  switch (operationType) {
    case "Create":
      if (existing) throw new HttpError(409, "Conflict", "Resource with specified id already exists.");
      return { statusCode: 201, body: docs.create(doc) };
    case "Upsert":
      if (existing) return { statusCode: 200, body: docs.replace(doc, existing) };
      return { statusCode: 201, body: docs.create(doc) };
    case "Replace":
      if (!existing) throw notFound();
      return { statusCode: 200, body: docs.replace(doc, existing) };
    case "Read":
      if (!existing) throw notFound();
      return { statusCode: 200, body: existing };
    case "Delete":
      if (!existing) throw notFound();
      docs.delete(existing._rid);
      return { statusCode: 204, body: undefined };
    case "Patch": {
      if (!existing) throw notFound();
      const body = doc || {};
      return patchOperation(collection, {
        id, partitionKey: JSON.stringify(values), ifMatch,
        operations: Array.isArray(body) ? body : body.operations, condition: body.condition
      });
    }
    default:
      throw badRequest(`Operation type '${operationType}' is not supported in Batch.`);
  }
}

/** Errors thrown inside the package's own Items methods carry these flags. */
function asHttpError(err) {
  if (err instanceof HttpError) return err;
  if (err.conflict) return new HttpError(409, "Conflict", err.message);
  if (err.badRequest) return badRequest(err.message);
  return null;
}

function liveCollection(account, { dbId, collId }) {
  const collection = account.database(dbId).collection(collId);
  if (!collection.read()) throw notFound();
  return collection;
}

/** Handler for a single-document request: GET/PUT/DELETE docs/:docId. */
const pointHandler = operationType => async (account, req, res, params) => {
  const resourceBody = operationType === "Replace" ? await readJson(req) : undefined;
  const collection = liveCollection(account, params);
  const result = applyOperation(collection, {
    operationType, id: params.docId, resourceBody, ifMatch: req.headers["if-match"]
  }, headerPk(req));
  res.statusCode = result.statusCode;
  return result.body;
};

/** Handler for POST docs (create, or upsert with x-ms-documentdb-is-upsert). */
const writeHandler = operationType => async (account, req, res, params) => {
  const resourceBody = await readJson(req);
  const collection = liveCollection(account, params);
  const result = applyOperation(collection, {
    operationType, resourceBody, ifMatch: req.headers["if-match"]
  }, headerPk(req));
  res.statusCode = result.statusCode;
  return result.body;
};

/**
 * Transactional batch: operations run in order against the live container while an
 * undo log remembers each touched document; on the first failure everything is rolled
 * back and the response reports the failed operation's status, 424 for the others.
 */
async function batchHandler(account, req, res, params) {
  const ops = await readJson(req);
  const collection = liveCollection(account, params);
  if (!Array.isArray(ops) || ops.length === 0) {
    throw badRequest("The batch request must contain at least one operation.");
  }
  if (ops.length > MAX_BATCH_OPERATIONS) {
    throw badRequest("Batch request has more operations than what is supported " +
      `(${ops.length} > ${MAX_BATCH_OPERATIONS}).`);
  }
  const values = headerPk(req);
  if (values === null) {
    throw badRequest("A transactional batch requires the x-ms-documentdb-partitionkey header.");
  }

  const undo = []; // [id, previous document object or undefined], newest last
  const results = [];
  let failedIndex = -1;
  for (let i = 0; i < ops.length && failedIndex < 0; i += 1) {
    const op = ops[i] || {};
    const id = op.id !== undefined ? op.id : op.resourceBody && op.resourceBody.id;
    undo.push([id, findDoc(collection, id, values)]);
    try {
      const { statusCode, body } = applyOperation(collection, op, values);
      results.push({ statusCode, requestCharge: 1, eTag: body && body._etag, resourceBody: body });
      if (statusCode >= 400) failedIndex = i; // patch reports failures as results
    } catch (err) {
      const httpErr = asHttpError(err);
      if (!httpErr) throw err;
      results.push({ statusCode: httpErr.statusCode, requestCharge: 0, message: httpErr.message });
      failedIndex = i;
    }
  }
  if (failedIndex < 0) {
    res.statusCode = 200;
    return results;
  }
  // Roll back in reverse order: drop what the batch wrote, put the old object back.
  for (const [id, previous] of undo.reverse()) {
    const current = typeof id === "string" ? findDoc(collection, id, values) : undefined;
    if (current) collection.documents.delete(current._rid);
    if (previous) collection.documents._set(previous);
  }
  res.statusCode = 207; // Multi-Status, like the real service
  return ops.map((_, i) =>
    i === failedIndex
      ? { statusCode: results[i].statusCode, requestCharge: 0, message: results[i].message }
      : { statusCode: 424, requestCharge: 0 });
}

/** Answer for `x-ms-cosmos-is-query-plan-request`: no rewrite, one full range. */
const PASS_THROUGH_QUERY_PLAN = {
  partitionedQueryExecutionInfoVersion: 2,
  queryInfo: {
    distinctType: "None", top: null, offset: null, limit: null,
    orderBy: [], orderByExpressions: [], groupByExpressions: [], groupByAliases: [],
    aggregates: [], groupByAliasToAggregateType: {}, rewrittenQuery: "",
    hasSelectValue: false, dCountInfo: null, hasNonStreamingOrderBy: false
  },
  queryRanges: [{ min: "", max: "FF", isMinInclusive: true, isMaxInclusive: false }]
};

/**
 * The SDK asks for a query plan (POST docs with `x-ms-cosmos-is-query-plan-request`,
 * content-type application/json) only after a 400 with sub-status 1004, which this
 * server never sends; answer anyway so that path also works end to end.
 */
async function queryPlanHandler(account, req, res, params) {
  await readJson(req);
  liveCollection(account, params);
  return PASS_THROUGH_QUERY_PLAN;
}

/**
 * Document query: scoped to the header's partition key when present, otherwise over
 * all partitions (the server holds one physical partition, so ORDER BY, TOP and
 * aggregates come out right without a client-side query plan).
 */
async function queryHandler(account, req, res, params) {
  return readItems(req, res, "Documents", async ({ continuation, maxItemCount }) => {
    const body = await readJson(req);
    const collection = liveCollection(account, params);
    if (!body || typeof body.query !== "string") throw badRequest("missing query");
    const values = headerPk(req);
    const docs = [...collection.documents._data.values()]
      .map(item => item.read())
      .filter(doc => values === null || pkMatches(collection, doc, values));
    const { compositeIndexes } = collection.read().indexingPolicy || {};
    try {
      return collection.documents._getQuery(body.query).exec(docs, {
        parameters: body.parameters,
        udf: collection.documents._userDefinedFunctions(),
        maxItemCount,
        continuation,
        compositeIndexes: compositeIndexes || []
      });
    } catch (err) {
      throw err instanceof HttpError ? err : badRequest(err.message); // e.g. query syntax
    }
  });
}

// ---------------------------------------------------------------- test-only endpoints

let currentAccount = null;

function resetHandler(account, req, res) {
  const ids = [...account.databases._data.values()].map(db => db.read().id);
  ids.forEach(id => account.databases.delete(id, id));
  res.statusCode = 200;
  return { reset: true, databasesDropped: ids.length };
}

// Counters for GET /_emulator/health (tests use `connections` to check keep-alive).
const stats = { connections: 0, requests: 0 };
const healthHandler = () => ({ status: "ok", ssl: args.ssl, ...stats });

// ---------------------------------------------------------------- wiring

// Our routes, in the package's own rule format (method suffixes _QUERY/_UPSERT/_BATCH
// come from the package's router: x-ms-documentdb-isquery, -is-upsert, -is-batch-request).
const overrides = lib("router").default({
  GET: {
    "/_emulator/health": healthHandler,
    "/dbs/:dbId/colls/:collId/docs/:docId": pointHandler("Read")
  },
  PUT: { "/dbs/:dbId/colls/:collId/docs/:docId": pointHandler("Replace") },
  DELETE: { "/dbs/:dbId/colls/:collId/docs/:docId": pointHandler("Delete") },
  POST: {
    "/_emulator/reset": resetHandler,
    "/dbs/:dbId/colls/:collId/docs": writeHandler("Create")
  },
  POST_UPSERT: { "/dbs/:dbId/colls/:collId/docs": writeHandler("Upsert") },
  POST_BATCH: { "/dbs/:dbId/colls/:collId/docs": batchHandler },
  POST_QUERY: { "/dbs/:dbId/colls/:collId/docs": queryHandler }
});

const queryPlanRoutes = lib("router").default({
  POST: { "/dbs/:dbId/colls/:collId/docs": queryPlanHandler }
});
const isTrue = lib("true-header").default;

/** Wrap every handler: TTL sweep first, HttpError -> JSON error response. */
const wrap = handler => async (account, req, res, params) => {
  if (params.dbId && params.collId) {
    sweepCollection(account.database(params.dbId).collection(params.collId));
  }
  try {
    return await handler(account, req, res, params);
  } catch (err) {
    const httpErr = asHttpError(err);
    if (!httpErr) throw err;
    res.statusCode = httpErr.statusCode;
    return { code: httpErr.code, message: httpErr.message };
  }
};

const routesModule = lib("routes");
const stockRoutes = routesModule.default;
routesModule.default = req => {
  stats.requests += 1;
  if (DEBUG) console.error(req.method, req.url, JSON.stringify(pickHeaders(req.headers)));
  const match = (isTrue(req, "x-ms-cosmos-is-query-plan-request") && queryPlanRoutes(req)) ||
    overrides(req) || stockRoutes(req);
  return match && [match[0], wrap(match[1])];
};

// The package's own handlers (databases, containers, patch, UDFs) read JSON through this.
lib("json").default = readJson;

// Fix 7: with --no-ssl, advertise http:// endpoints so the SDK's endpoint discovery works.
const accountModule = lib("account");
const StockAccount = accountModule.default;
accountModule.default = class EmulatorAccount extends StockAccount {
  constructor(host, port) {
    super(host, port);
    const data = this.read();
    for (const loc of [...data.writableLocations, ...data.readableLocations]) {
      loc.databaseAccountEndpoint = `${args.ssl ? "https" : "http"}://${host}:${port}/`;
    }
    currentAccount = this;
  }
};

function pickHeaders(headers) {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => k.startsWith("x-ms-")));
}

// ---------------------------------------------------------------- start

const { createHttpServer, createHttpsServer } = require("@vercel/cosmosdb-server");
const server = (args.ssl ? createHttpsServer : createHttpServer)({ keepAlive: true });
server.keepAliveTimeout = 0; // keep idle client connections open until the client closes them
server.on(args.ssl ? "secureConnection" : "connection", () => { stats.connections += 1; });

const sweeper = setInterval(() => {
  if (!currentAccount) return;
  for (const collection of allCollections(currentAccount)) sweepCollection(collection);
}, TTL_SWEEP_INTERVAL_MS);
sweeper.unref();

server.on("error", err => {
  console.error(`cosmos emulator failed: ${err.message}`);
  process.exit(1);
});

server.listen(args.port, args.host, () => {
  const { port } = server.address();
  const scheme = args.ssl ? "https" : "http";
  const host = args.host.includes(":") ? `[${args.host}]` : args.host;
  console.log(`Ready to accept ${scheme.toUpperCase()} connections at ${scheme}://${host}:${port}`);
});

function shutdown() {
  clearInterval(sweeper);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
if (args.exitOnStdinClose) {
  process.stdin.on("end", shutdown).on("error", shutdown).resume();
}

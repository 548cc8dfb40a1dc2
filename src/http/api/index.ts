import { Hono } from "hono";
import type { Broker } from "../../core/broker";
import type { Env } from "../../env";
import { bindingRoutes } from "./bindings";
import { connectionRoutes } from "./connections";
import { apiErrorOf, authenticate, errorResponse, type ApiEnv } from "./context";
import { definitionRoutes } from "./definitions";
import { exchangeRoutes } from "./exchanges";
import { metricsRoutes } from "./metrics";
import { overviewRoutes } from "./overview";
import { policyRoutes } from "./policies";
import { queueRoutes } from "./queues";
import { userRoutes } from "./users";
import { vhostRoutes } from "./vhosts";

/**
 * RabbitMQ's management HTTP API (paths, JSON fields, status codes), one module per resource,
 * each calling core/ operations. Mounted at /api; `metrics` is mounted at /metrics.
 */
export function managementApi(broker: (env: Env) => Broker): { api: Hono<ApiEnv>; metrics: Hono<ApiEnv> } {
  const api = new Hono<ApiEnv>();
  api.use("*", authenticate(broker));
  api.onError((err, c) => errorResponse(c, apiErrorOf(err)));
  overviewRoutes(api);
  vhostRoutes(api);
  userRoutes(api);
  queueRoutes(api);
  exchangeRoutes(api);
  bindingRoutes(api);
  connectionRoutes(api);
  definitionRoutes(api);
  policyRoutes(api);
  // A mounted app's notFound is not consulted by the parent: a catch-all answers instead.
  api.all("*", (c) => c.json({ error: "Object Not Found", reason: "Not Found" }, 404));

  const metrics = new Hono<ApiEnv>();
  metrics.use("*", authenticate(broker));
  metrics.onError((err, c) => errorResponse(c, apiErrorOf(err)));
  metricsRoutes(metrics);
  return { api, metrics };
}

// Shapes of the REST API's answers (api/openapi.json), as the UI reads them.

export type FreshnessState = "PASS" | "WARN" | "AT_RISK" | "FAIL" | "UNKNOWN";
export const STATES: FreshnessState[] = ["FAIL", "AT_RISK", "WARN", "UNKNOWN", "PASS"];

export interface Policy {
  max_lag?: string;
  warn_after?: string;
  cron?: string;
  timezone?: string;
  grace?: string;
}

export interface EffectivePolicy {
  policy: Policy;
  source: "file" | "api";
}

export interface Spec {
  key: string;
  description?: string;
  group?: string;
  owners?: string[];
  tags?: string[];
  kinds?: string[];
  deps?: string[];
  code_version?: string;
  origin?: "declared" | "discovered" | "api";
  freshness?: Policy;
  checks?: { name: string; severity?: string }[];
  materialize?: { argv?: string[]; timeout?: string; pool?: string; [k: string]: unknown };
  automation?: unknown;
}

export interface CheckResult {
  name: string;
  passed: boolean;
  severity?: "warn" | "error";
}

export interface AssetEvent {
  id: string;
  kind: string;
  asset: string;
  time: string;
  run_id?: string;
  partition?: string;
  data_time?: string;
  upstream?: string[];
  metadata?: Record<string, unknown>;
  check?: CheckResult;
}

export interface Asset {
  spec: Spec;
  last_materialization?: AssetEvent;
  last_failure?: AssetEvent;
  last_observation?: AssetEvent;
  last_checks?: AssetEvent[];
  counts?: Record<string, number>;
  first_event_time?: string;
  last_event_time?: string;
}

export interface AssetDetail extends Asset {
  upstream?: string[];
  downstream?: string[];
}

export interface AssetPage {
  assets: Asset[];
  next_cursor?: string;
}

export interface EventPage {
  events: AssetEvent[];
  next_cursor?: string;
}

export interface FreshnessResult {
  key: string;
  state: FreshnessState;
  lag_seconds?: number;
  data_time?: string;
  deadline?: string;
  reason?: string;
  root_cause?: string;
  predicted_completion?: string;
  evaluated_at?: string;
  group?: string;
  policy?: EffectivePolicy;
}

export interface FreshnessList {
  assets: FreshnessResult[];
  counts: Partial<Record<FreshnessState, number>>;
  evaluated_at?: string;
  impacted?: { root_cause: string; assets: string[]; total: number }[];
  problems?: {
    key: string;
    group?: string;
    run_failed?: AssetEvent;
    checks_failed?: AssetEvent[];
  }[];
}

export interface AssetFreshness {
  key: string;
  result?: FreshnessResult;
  policy?: EffectivePolicy;
  history?: AssetEvent[];
  audit?: AssetEvent[];
}

export interface GraphNode {
  key: string;
  depth: number;
}

export interface GraphEdge {
  upstream: string;
  downstream: string;
  declared: boolean;
  observed: boolean;
}

export interface Subgraph {
  nodes: GraphNode[];
  edges: GraphEdge[];
  /** /lineage/graph only: the server kept the first nodes in key order */
  truncated?: boolean;
  total_nodes?: number;
}

export type RunStatus = "QUEUED" | "STARTING" | "STARTED" | "SUCCESS" | "FAILURE" | "CANCELING" | "CANCELED";

export interface RunStep {
  asset: string;
  status: string;
  attempts?: number;
  reason?: string;
  started?: string;
  ended?: string;
}

export interface Run {
  id: string;
  status: RunStatus;
  trigger: string;
  selection: string[];
  partition?: string;
  parent?: string;
  reason?: string;
  created: string;
  started?: string;
  ended?: string;
  steps?: RunStep[];
}

export interface RunLogLine {
  seq: number;
  asset?: string;
  attempt?: number;
  stream: "stdout" | "stderr" | "pipes";
  time: string;
  text: string;
  truncated?: boolean;
}

export interface Notification {
  key: string;
  status: "firing" | "resolved";
  severity: string;
  summary: string;
  root_cause?: string;
  asset?: string;
  impacted?: string[];
  group?: string;
  rule?: string;
  owners?: string[];
  lag_ns?: number;
  deadline?: string;
  starts_at?: string;
  ends_at?: string;
  details?: Record<string, string>;
}

export interface OpenAlert {
  notification: Notification;
  held?: string;
  last_sent?: string;
}

export interface Matcher {
  keys?: string[];
  key_prefix?: string;
  group?: string;
  owner?: string;
  tag?: string;
  kind?: string;
  rule?: string;
}

export interface Silence {
  id: string;
  match: Matcher;
  comment: string;
  created_by?: string;
  starts_at: string;
  ends_at: string;
  created?: string;
  active?: boolean;
}

export interface ColumnRef {
  asset: string;
  column: string;
}

export interface ColumnInput extends ColumnRef {
  transformation?: string;
}

export interface AssetColumn {
  name: string;
  type?: string;
  description?: string;
  upstream: ColumnInput[];
  downstream: ColumnInput[];
}

export interface AssetColumns {
  asset: string;
  columns: AssetColumn[];
}

export interface ColumnGraph {
  nodes: (ColumnRef & { depth: number })[];
  edges: { from: ColumnRef; to: ColumnRef; transformation?: string }[];
  truncated?: boolean;
}

export interface Delivery {
  id: string;
  receiver: string;
  key: string;
  status: "firing" | "resolved";
  state: "pending" | "delivered" | "failed" | string;
  attempts: number;
  last_code?: number;
  last_error?: string;
  last_latency_ms?: number;
  next_attempt?: string;
  created: string;
  updated: string;
  notification: Notification;
}

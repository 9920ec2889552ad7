import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, constants, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Static, TObject } from '@sinclair/typebox';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service as K8sService } from 'kubernetes-models/v1/Service';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { ApiConfigSchema, checkApiConfig } from '../../api/config.js';
import { IngestConfigSchema } from '../../ingest/config.js';
import { ProcessorConfigSchema } from '../../processor/config.js';
import { serviceArgs, SERVICE_NODE_FLAGS, type Service } from '../../scripts/services.js';
import { loadConfig } from '../../shared/config/load-config.js';
import { replicationOf, topicReplication } from '../../shared/kafka/kafka.js';
import { MigrateConfigSchema } from '../../shared/db/migrate.js';
import { ROOT } from '../helpers/services.js';

const run = promisify(execFile);

/**
 * The deployment files (deploy/container, deploy/compose, deploy/k8s), validated as far as a
 * machine with no container engine can: the Compose file by Debian's `docker-compose config`
 * (installed by deploy/local/compose-cli.sh, which `npm test` runs), the manifests against the
 * Kubernetes schemas (kubernetes-models), every variable they give a Goalpost container
 * against that role's own config schema (the name exists, the value validates, and nothing that
 * defaults to the local stack is left to its default), and every entry point and file they
 * name against the build in dist/ (`npm run build`, which `npm test` runs first).
 */

type Role = Service | 'migrate';
type Env = Record<string, string>;

const ROLES: Record<Role, { schema: TObject; check?: (c: Static<TObject>) => string[] }> = {
  ingest: { schema: IngestConfigSchema },
  processor: { schema: ProcessorConfigSchema },
  api: { schema: ApiConfigSchema, check: checkApiConfig as (c: Static<TObject>) => string[] },
  migrate: { schema: MigrateConfigSchema },
};
const isRole = (r: unknown): r is Role => typeof r === 'string' && r in ROLES;

const DEPLOY = join(ROOT, 'deploy');
const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

// ---------------------------------------------------------------------------------------------
// The Dockerfile, read as its instructions (continuation lines joined, comments dropped).

interface Instruction {
  op: string;
  args: string;
  stage: string;
}

async function dockerfile(): Promise<Instruction[]> {
  const text = await readFile(join(DEPLOY, 'container/Dockerfile'), 'utf8');
  const lines = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  let stage = '';
  return lines.map((l) => {
    const [op = '', ...rest] = l.split(/\s+/);
    const args = rest.join(' ');
    if (op.toUpperCase() === 'FROM') stage = /\bAS\s+(\S+)/i.exec(args)?.[1] ?? '';
    return { op: op.toUpperCase(), args, stage };
  });
}

/** The image's own ENV, which every role inherits under what the orchestrator sets. */
async function imageEnv(): Promise<Env> {
  const ins = await dockerfile();
  const final = ins.filter((i) => i.op === 'FROM').at(-1)!.stage;
  const env: Env = {};
  for (const i of ins.filter((x) => x.op === 'ENV' && x.stage === final)) {
    for (const pair of i.args.split(/\s+/)) {
      const [k, ...v] = pair.split('=');
      env[k!] = v.join('=');
    }
  }
  return env;
}

/**
 * Checks what one container of `role` gets: every name it sets is a variable of the role's
 * schema, the values (over the image's ENV) pass the schema and its extra check, and every
 * variable whose default is the local stack's loopback address is set. Returns the loaded config.
 */
function checkRoleEnv(role: Role, env: Env, image: Env, where: string): Record<string, unknown> {
  const { schema, check } = ROLES[role];
  const props = schema.properties as Record<string, { default?: unknown }>;
  const unknown = Object.keys(env).filter((k) => !(k in props));
  expect(unknown, `${where}: variables ${role} does not read`).toEqual([]);
  const merged = { ...image, ...env };
  const localDefaults = Object.entries(props)
    .filter(([, p]) => typeof p.default === 'string' && p.default.includes('127.0.0.1'))
    .map(([k]) => k);
  expect(
    localDefaults.filter((k) => merged[k] === undefined || merged[k] === ''),
    `${where}: left at the local stack's default`,
  ).toEqual([]);
  let config: Record<string, unknown> = {};
  expect(() => {
    config = loadConfig(schema, merged, check);
  }, where).not.toThrow();
  return config;
}

/** The port a role answers /health and /ready on (its public port, or the processor's metrics). */
function healthPort(role: Service, config: Record<string, unknown>): unknown {
  return { ingest: config.INGEST_PORT, api: config.API_PORT, processor: config.METRICS_PORT }[role];
}

// ---------------------------------------------------------------------------------------------

describe('container image (deploy/container)', () => {
  it('builds in one stage and runs in another from dist/, as a non-root user', async () => {
    const ins = await dockerfile();
    const froms = ins.filter((i) => i.op === 'FROM');
    expect(froms.map((f) => f.stage)).toEqual(['build', 'runtime']);
    const runs = (stage: string) =>
      ins.filter((i) => i.op === 'RUN' && i.stage === stage).map((i) => i.args);
    expect(runs('build').some((r) => /^npm ci\b/.test(r))).toBe(true);
    expect(runs('build')).toContain('npm run build');
    expect(runs('runtime').some((r) => /^npm ci\b.*--omit=dev/.test(r))).toBe(true);
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts.build).toBeDefined();
    // Only the build's output comes from the build stage; the user is not root.
    const copies = ins.filter((i) => i.op === 'COPY' && i.stage === 'runtime');
    expect(copies.map((c) => c.args)).toContain('--from=build /src/dist ./dist');
    const user = ins.filter((i) => i.op === 'USER' && i.stage === 'runtime').at(-1)?.args;
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
    // Every file copied from the repository exists.
    for (const c of ins.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))) {
      const srcs = c.args.split(/\s+/).slice(0, -1);
      for (const s of srcs.filter((x) => x !== '.')) {
        expect(await exists(join(ROOT, s)), `COPY ${s}`).toBe(true);
      }
    }
  });

  it('gives every role only variables some role reads, with values they accept', async () => {
    const image = await imageEnv();
    expect(Object.keys(image).length).toBeGreaterThan(0);
    for (const name of Object.keys(image)) {
      const readers = (Object.keys(ROLES) as Role[]).filter(
        (r) => name in ROLES[r].schema.properties,
      );
      expect(readers, `Dockerfile ENV ${name}`).not.toEqual([]);
    }
    for (const role of Object.keys(ROLES) as Role[]) {
      const { schema, check } = ROLES[role];
      expect(() => loadConfig(schema, image, check), `image ENV for ${role}`).not.toThrow();
    }
  });

  it('starts each role from files the build contains, with the flags of scripts/services.ts', async () => {
    const ins = await dockerfile();
    const entry = ins.find((i) => i.op === 'ENTRYPOINT')!;
    const health = ins.find((i) => i.op === 'HEALTHCHECK')!;
    const cmd = ins.filter((i) => i.op === 'CMD').at(-1)!;
    const inImage = (p: string) => p.replace(/^\/app\//, '');
    const entryScript = inImage((JSON.parse(entry.args) as string[])[0]!);
    expect(entryScript).toBe('deploy/container/entrypoint.sh');
    await access(join(ROOT, entryScript), constants.X_OK);
    // The health check (the exec form after CMD) runs a file of the build.
    const healthCmd = JSON.parse(health.args.slice(health.args.indexOf('CMD') + 3)) as string[];
    expect(healthCmd[0]).toBe('node');
    expect(await exists(join(ROOT, inImage(healthCmd[1]!)))).toBe(true);
    expect(isRole((JSON.parse(cmd.args) as string[])[0])).toBe(true);

    const dryRun = async (...args: string[]) => {
      const { stdout } = await run('bash', [join(ROOT, entryScript), '--dry-run', ...args], {
        env: { ...process.env, GOALPOST_ROOT: ROOT },
      });
      return stdout.trimEnd().split('\n');
    };
    for (const service of ['ingest', 'processor', 'api'] as const) {
      const argv = await dryRun(service);
      expect(argv).toEqual(['node', ...serviceArgs(ROOT, service)]);
      expect(argv.slice(1, -1)).toEqual(SERVICE_NODE_FLAGS[service]);
      expect(argv.at(-1)).toBe(join(ROOT, 'dist', service, 'index.js'));
      expect(await exists(argv.at(-1)!), `${service} entry`).toBe(true);
    }
    for (const [args, file] of [
      [['migrate'], 'dist/shared/db/migrate.cli.js'],
      [['cli', 'keys', 'list'], 'dist/api/cli/main.js'],
      [['cli', 'sites', 'list'], 'dist/api/cli/main.js'],
      [['cli', 'dlq', 'list'], 'dist/processor/cli/main.js'],
    ] as const) {
      const argv = await dryRun(...args);
      expect(argv.slice(0, 2)).toEqual(['node', file]);
      expect(await exists(join(ROOT, file)), file).toBe(true);
    }
    // An unknown role stops the container with a usage error.
    await expect(dryRun('worker')).rejects.toMatchObject({ code: 64 });
  });
});

// ---------------------------------------------------------------------------------------------

interface ComposeService {
  image?: string;
  command?: string[] | string;
  environment?: Record<string, string | number | null>;
  depends_on?: Record<string, { condition: string }>;
  volumes?: Array<string | { type: string; source: string; target: string }>;
  networks?: Record<string, { ipv4_address?: string } | null>;
  restart?: string;
}
interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
}

const COMPOSE_DIR = join(DEPLOY, 'compose');
const SECRET_NAMES = [
  'POSTGRES_PASSWORD',
  'REDIS_PASSWORD',
  'KAFKA_CLUSTER_ID',
  'GOALPOST_BOOTSTRAP_API_KEY',
  'API_LIVE_TOKEN_SECRET',
];

/** `docker-compose config` with `envFile`: the file as Compose resolves it, or its error. */
async function composeConfig(envFile: string): Promise<ComposeFile> {
  const env = { ...process.env };
  for (const k of SECRET_NAMES) delete env[k]; // only the env file may supply them
  const { stdout } = await run(
    'docker-compose',
    ['--env-file', envFile, '-f', join(COMPOSE_DIR, 'compose.yaml'), 'config'],
    { cwd: COMPOSE_DIR, env },
  );
  return parse(stdout) as ComposeFile;
}

const readEnvFile = async (file: string): Promise<Env> =>
  Object.fromEntries(
    (await readFile(file, 'utf8'))
      .split('\n')
      .filter((l) => /^[A-Z_][A-Z0-9_]*=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );

const asEnv = (e: ComposeService['environment']): Env =>
  Object.fromEntries(Object.entries(e ?? {}).map(([k, v]) => [k, v === null ? '' : String(v)]));
const commandOf = (s: ComposeService): string[] =>
  Array.isArray(s.command) ? s.command : (s.command ?? '').split(/\s+/).filter(Boolean);
const mounts = (s: ComposeService) =>
  (s.volumes ?? []).map((v) => {
    if (typeof v !== 'string') return { source: v.source, target: v.target };
    const [source = '', target = ''] = v.split(':');
    return { source, target };
  });

describe('docker compose (deploy/compose)', () => {
  const exampleEnv = join(COMPOSE_DIR, 'example.env');
  // One `docker-compose config` run (about a second of Python start-up) serves the checks below.
  let resolved: Promise<ComposeFile> | undefined;
  const example = () => (resolved ??= composeConfig(exampleEnv));

  it('is a valid Compose file with the planned services, each Goalpost role checked against its schema', async () => {
    const c = await example();
    const image = await imageEnv();
    expect(Object.keys(c.services).sort()).toEqual(
      [
        'api',
        'ingest-1',
        'ingest-2',
        'kafka-1',
        'kafka-2',
        'kafka-3',
        'migrate',
        'processor-1',
        'processor-2',
        'proxy',
        'redis',
        'timescaledb',
      ].sort(),
    );
    const goalpost = Object.entries(c.services).filter(([, s]) => isRole(commandOf(s)[0]));
    const byRole = (r: Role) => goalpost.filter(([, s]) => commandOf(s)[0] === r);
    expect(byRole('ingest')).toHaveLength(2);
    expect(byRole('processor')).toHaveLength(2);
    expect(byRole('api')).toHaveLength(1);
    expect(byRole('migrate')).toHaveLength(1);

    const brokers = Object.entries(c.services).filter(([n]) => n.startsWith('kafka-'));
    const advertised = brokers.map(([, s]) =>
      String(s.environment!.KAFKA_ADVERTISED_LISTENERS).replace(/^PLAINTEXT:\/\//, ''),
    );
    for (const [name, s] of goalpost) {
      const role = commandOf(s)[0] as Role;
      expect(s.image, name).toBe(goalpost[0]![1].image);
      const config = checkRoleEnv(role, asEnv(s.environment), image, `compose ${name}`);
      if (role === 'migrate') {
        expect(s.restart).toBe('no');
        expect(s.depends_on?.timescaledb?.condition).toBe('service_healthy');
        continue;
      }
      // Migrations ran (once) before any service starts.
      expect(s.depends_on?.migrate?.condition, name).toBe('service_completed_successfully');
      if (role !== 'api') {
        expect(String(config.KAFKA_BROKERS).split(',').sort(), name).toEqual(advertised.sort());
        // The topics it would create on these brokers: 3 copies, 2 in sync.
        const replication = replicationOf(config as Parameters<typeof replicationOf>[0]);
        expect(topicReplication(brokers.length, replication), name).toEqual({
          replicationFactor: 3,
          minInsyncReplicas: 2,
        });
      }
    }
  });

  it('runs Kafka in KRaft mode on 3 brokers with replication 3 and min.insync.replicas 2', async () => {
    const c = await example();
    const brokers = Object.entries(c.services).filter(([n]) => n.startsWith('kafka-'));
    expect(brokers).toHaveLength(3);
    const voters = new Set<string>();
    for (const [name, s] of brokers) {
      const e = asEnv(s.environment);
      expect(e.KAFKA_PROCESS_ROLES!.split(',').sort(), name).toEqual(['broker', 'controller']);
      expect(e.KAFKA_DEFAULT_REPLICATION_FACTOR).toBe('3');
      expect(e.KAFKA_MIN_INSYNC_REPLICAS).toBe('2');
      expect(e.KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR).toBe('3');
      expect(e.KAFKA_AUTO_CREATE_TOPICS_ENABLE).toBe('false');
      expect(Number(e.KAFKA_LOG_RETENTION_HOURS)).toBeGreaterThan(0);
      voters.add(e.KAFKA_CONTROLLER_QUORUM_VOTERS!);
      // Each broker is one of the voters, under its own node id and host name.
      expect(e.KAFKA_CONTROLLER_QUORUM_VOTERS!.split(',')).toContain(
        `${e.KAFKA_NODE_ID}@${name}:9093`,
      );
      expect(mounts(s).map((m) => m.target)).toContain(e.KAFKA_LOG_DIRS);
    }
    expect(voters.size).toBe(1);
    expect([...voters][0]!.split(',')).toHaveLength(3);
  });

  it('keeps every piece of state in a named volume, and Redis with AOF', async () => {
    const c = await example();
    const state: Record<string, string> = {
      'kafka-1': '/var/lib/kafka/data',
      'kafka-2': '/var/lib/kafka/data',
      'kafka-3': '/var/lib/kafka/data',
      timescaledb: '/var/lib/postgresql/data',
      redis: '/data',
      proxy: '/data', // Caddy's certificates
    };
    const declared = Object.keys(c.volumes);
    const used = new Set<string>();
    for (const [name, target] of Object.entries(state)) {
      const m = mounts(c.services[name]!).find((x) => x.target === target);
      expect(m, `${name}:${target}`).toBeDefined();
      expect(declared, `${name}: ${m!.source} is a named volume`).toContain(m!.source);
      used.add(m!.source);
    }
    // One volume per piece of state: none shared, none declared and unused.
    expect(used.size).toBe(Object.keys(state).length);
    for (const v of declared) {
      const users = Object.values(c.services).filter((s) => mounts(s).some((m) => m.source === v));
      expect(users, v).toHaveLength(1);
    }
    const redis = commandOf(c.services.redis!);
    expect(redis[redis.indexOf('--appendonly') + 1]).toBe('yes');
  });

  it('puts both ingest instances behind the proxy, which is the only proxy they trust', async () => {
    const c = await example();
    const proxyIp = Object.values(c.services.proxy!.networks ?? {})[0]?.ipv4_address;
    expect(proxyIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const caddy = await readFile(join(COMPOSE_DIR, 'Caddyfile'), 'utf8');
    const upstreams = /reverse_proxy\s+([^{\n]+)\{/.exec(caddy)?.[1]?.trim().split(/\s+/);
    const ingest = Object.entries(c.services).filter(([, s]) => commandOf(s)[0] === 'ingest');
    const expected = ingest.map(([name, s]) => {
      const cfg = loadConfig(IngestConfigSchema, asEnv(s.environment));
      expect(cfg.INGEST_TRUSTED_PROXIES, name).toBe(proxyIp);
      return `${name}:${cfg.INGEST_PORT}`;
    });
    expect(upstreams?.sort()).toEqual(expected.sort());
    expect(caddy).toMatch(/health_uri \/ready/);
  });

  it('takes every secret from the env file, and refuses to start without one', async () => {
    const example = await readEnvFile(join(COMPOSE_DIR, 'example.env'));
    expect(Object.keys(example)).toEqual(expect.arrayContaining(SECRET_NAMES));
    const text = await readFile(join(COMPOSE_DIR, 'compose.yaml'), 'utf8');
    for (const k of SECRET_NAMES) expect(text, k).not.toContain(example[k]);

    const dir = await mkdtemp(join(tmpdir(), 'goalpost-compose-'));
    try {
      // Other values in the env file → they reach the containers (so they come from there).
      const other: Env = { ...example };
      for (const k of SECRET_NAMES) other[k] = randomBytes(16).toString('hex');
      other.KAFKA_CLUSTER_ID = randomBytes(16).toString('base64url');
      const otherFile = join(dir, 'other.env');
      await writeFile(
        otherFile,
        Object.entries(other)
          .map(([k, v]) => `${k}=${v}\n`)
          .join(''),
      );
      const c = await composeConfig(otherFile);
      const api = asEnv(c.services.api!.environment);
      expect(api.DATABASE_URL).toContain(`:${other.POSTGRES_PASSWORD}@`);
      expect(api.REDIS_URL).toContain(`:${other.REDIS_PASSWORD}@`);
      expect(api.GOALPOST_BOOTSTRAP_API_KEY).toBe(other.GOALPOST_BOOTSTRAP_API_KEY);
      expect(api.API_LIVE_TOKEN_SECRET).toBe(other.API_LIVE_TOKEN_SECRET);
      expect(asEnv(c.services['kafka-1']!.environment).CLUSTER_ID).toBe(other.KAFKA_CLUSTER_ID);

      const missing = { ...example };
      delete missing.POSTGRES_PASSWORD;
      const missingFile = join(dir, 'missing.env');
      await writeFile(
        missingFile,
        Object.entries(missing)
          .map(([k, v]) => `${k}=${v}\n`)
          .join(''),
      );
      await expect(composeConfig(missingFile)).rejects.toMatchObject({
        stderr: expect.stringContaining('POSTGRES_PASSWORD') as string,
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------

interface K8sDoc {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec?: Record<string, unknown>;
  stringData?: Record<string, string>;
}
interface Container {
  name: string;
  args?: string[];
  image: string;
  ports?: Array<{ name?: string; containerPort: number }>;
  env?: Array<{
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: { name: string; key: string } };
  }>;
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  resources?: { requests?: Record<string, string> };
}
interface PodTemplate {
  metadata: { labels: Record<string, string> };
  spec: { containers: Container[]; securityContext?: { runAsNonRoot?: boolean } };
}

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'v1/Service': K8sService,
  'v1/Secret': Secret,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'batch/v1/Job': Job,
};

const K8S_DIR = join(DEPLOY, 'k8s');

async function manifests(): Promise<Array<{ file: string; doc: K8sDoc }>> {
  const files = (await readdir(K8S_DIR)).filter(
    (f) => f.endsWith('.yaml') && f !== 'kustomization.yaml',
  );
  const out: Array<{ file: string; doc: K8sDoc }> = [];
  for (const file of files.sort()) {
    for (const d of parseAllDocuments(await readFile(join(K8S_DIR, file), 'utf8'))) {
      expect(d.errors, file).toEqual([]);
      const doc = d.toJS() as K8sDoc | null;
      if (doc) out.push({ file, doc });
    }
  }
  return out;
}

const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

describe('Kubernetes manifests (deploy/k8s)', () => {
  it('validate against the Kubernetes schemas, and the kustomization lists them all', async () => {
    const docs = await manifests();
    for (const { file, doc } of docs) {
      const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
      expect(Model, `${file}: ${doc.apiVersion} ${doc.kind} has no model here`).toBeDefined();
      expect(
        () => new Model!(doc as never).validate(),
        `${file} ${doc.metadata.name}`,
      ).not.toThrow();
    }
    const kustomization = parse(await readFile(join(K8S_DIR, 'kustomization.yaml'), 'utf8')) as {
      resources: string[];
      images: Array<{ name: string }>;
    };
    const files = [...new Set(docs.map((d) => d.file))];
    // Everything but the example Secret (created by hand with real values) is applied.
    expect([...kustomization.resources].sort()).toEqual(
      files.filter((f) => f !== 'secret.example.yaml').sort(),
    );
    expect(kustomization.images.map((i) => i.name)).toEqual(['goalpost']);
  });

  it('gives every container only what its role reads, probes on the ports the role answers, and requests', async () => {
    const docs = await manifests();
    const image = await imageEnv();
    const secrets = new Map(
      docs
        .filter((d) => d.doc.kind === 'Secret')
        .map((d) => [d.doc.metadata.name, d.doc.stringData ?? {}]),
    );
    const workloads = docs.filter((d) => d.doc.kind === 'Deployment' || d.doc.kind === 'Job');
    const roles = new Set<string>();
    for (const { doc } of workloads) {
      const template = (doc.spec as { template: PodTemplate }).template;
      expect(template.spec.securityContext?.runAsNonRoot, doc.metadata.name).toBe(true);
      for (const c of template.spec.containers) {
        const where = `${doc.kind} ${doc.metadata.name}/${c.name}`;
        expect(c.image, where).toBe('goalpost');
        const role = c.args?.[0];
        expect(isRole(role), where).toBe(true);
        roles.add(role!);
        const env: Env = {};
        for (const e of c.env ?? []) {
          const ref = e.valueFrom?.secretKeyRef;
          const value = ref ? secrets.get(ref.name)?.[ref.key] : e.value;
          expect(value, `${where}: ${e.name}`).toBeDefined();
          env[e.name] = value!;
        }
        const config = checkRoleEnv(role as Role, env, image, where);
        expect(c.resources?.requests?.cpu, where).toBeDefined();
        expect(c.resources?.requests?.memory, where).toBeDefined();
        if (doc.kind === 'Job') continue;
        const portOf = (p: string | number | undefined) =>
          typeof p === 'number' ? p : c.ports?.find((x) => x.name === p)?.containerPort;
        expect(c.livenessProbe?.httpGet?.path, where).toBe('/health');
        expect(c.readinessProbe?.httpGet?.path, where).toBe('/ready');
        if (role === 'ingest' || role === 'processor') {
          const brokers = String(config.KAFKA_BROKERS).split(',');
          const replication = replicationOf(config as Parameters<typeof replicationOf>[0]);
          expect(brokers, where).toHaveLength(3);
          expect(topicReplication(brokers.length, replication), where).toEqual({
            replicationFactor: 3,
            minInsyncReplicas: 2,
          });
        }
        const port = healthPort(role as Service, config);
        expect(portOf(c.livenessProbe?.httpGet?.port), where).toBe(port);
        expect(portOf(c.readinessProbe?.httpGet?.port), where).toBe(port);
      }
    }
    expect([...roles].sort()).toEqual(['api', 'ingest', 'migrate', 'processor']);
  });

  it('covers every Deployment with a PodDisruptionBudget, Services and autoscalers that find it', async () => {
    const docs = (await manifests()).map((d) => d.doc);
    const deployments = docs.filter((d) => d.kind === 'Deployment');
    const labelsOf = (d: K8sDoc) => (d.spec as { template: PodTemplate }).template.metadata.labels;
    for (const d of deployments) {
      const pdbs = docs.filter(
        (p) =>
          p.kind === 'PodDisruptionBudget' &&
          matches(
            (p.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels,
            labelsOf(d),
          ),
      );
      expect(pdbs, d.metadata.name).toHaveLength(1);
    }
    for (const s of docs.filter((d) => d.kind === 'Service')) {
      const spec = s.spec as {
        selector: Record<string, string>;
        ports: Array<{ targetPort: string }>;
      };
      const target = deployments.find((d) => matches(spec.selector, labelsOf(d)));
      expect(target, s.metadata.name).toBeDefined();
      const ports = (target!.spec as { template: PodTemplate }).template.spec.containers.flatMap(
        (c) => (c.ports ?? []).map((p) => p.name),
      );
      for (const p of spec.ports) expect(ports, s.metadata.name).toContain(p.targetPort);
    }
    const hpas = docs.filter((d) => d.kind === 'HorizontalPodAutoscaler');
    const hpaFor = (name: string) =>
      hpas.find(
        (h) => (h.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name === name,
      );
    for (const h of hpas) {
      const ref = (h.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name;
      expect(
        deployments.map((d) => d.metadata.name),
        h.metadata.name,
      ).toContain(ref);
    }
    type HpaSpec = { maxReplicas: number; metrics: Array<{ type: string }> };
    // Ingest scales on CPU; processors on lag, never beyond one partition each.
    expect((hpaFor('goalpost-ingest')!.spec as HpaSpec).metrics.map((m) => m.type)).toEqual([
      'Resource',
    ]);
    const processorHpa = hpaFor('goalpost-processor')!.spec as HpaSpec;
    expect(processorHpa.metrics.map((m) => m.type)).toEqual(['External']);
    const processor = deployments.find((d) => d.metadata.name === 'goalpost-processor')!;
    const partitions = (
      processor.spec as { template: PodTemplate }
    ).template.spec.containers[0]!.env!.find((e) => e.name === 'KAFKA_TOPIC_PARTITIONS')!.value;
    expect(processorHpa.maxReplicas).toBeLessThanOrEqual(Number(partitions));
  });
});

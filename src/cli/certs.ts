// `portcullis certs`: an internal CA and the certificates it issues, written into the secret store
// (`<certs>/<namespace>/<name>/{tls.crt,tls.key,ca.crt}`). Keys are written 0600 and never printed.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import type { IssuedCertificate } from '../secrets/certs-tool.js';
import { parseSecretName, SecretNameError } from '../secrets/secret-path.js';

interface StoreOptions {
  store?: string;
  config?: string;
}

/** `--store`, else the `certs:` folder of the config, else ./certs. */
function storeFolder(o: StoreOptions): string {
  if (o.store) return resolve(o.store);
  const configFile = o.config ?? 'portcullis.yaml';
  if (existsSync(configFile)) {
    const { config } = loadConfig(configFile);
    if (config) return config.certs;
  }
  return resolve('certs');
}

function printIssued(c: IssuedCertificate): void {
  process.stdout.write(
    `${c.secret}: ${c.subject}${c.subjectAltName ? ` [${c.subjectAltName}]` : ''}\n  serial ${c.serialNumber}, valid ${c.validFrom} .. ${c.validTo}\n  sha256 ${c.fingerprint256}\n  written to ${c.dir}\n`,
  );
}

/** The certificate tool (and node-forge) loads only when a certs command runs. */
const certsTool = () => import('../secrets/certs-tool.js');

async function guarded(action: (tool: Awaited<ReturnType<typeof certsTool>>) => Promise<void>): Promise<void> {
  const tool = await certsTool();
  const { CertToolError } = tool;
  try {
    await action(tool);
  } catch (e) {
    if (!(e instanceof CertToolError || e instanceof SecretNameError)) throw e;
    process.stderr.write(`portcullis certs: ${e.message}\n`);
    process.exitCode = 1;
  }
}

const days = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--days must be a positive integer, not ${v}`);
  return n;
};

export function registerCerts(program: Command): void {
  const certs = program.command('certs').description('create an internal CA and issue certificates into the secret store');
  certs
    .command('ca')
    .description('create a self-signed CA as secret <ns>/<name> (default portcullis/internal-ca)')
    .option('--secret <ns/name>', 'where to store it', 'portcullis/internal-ca')
    .option('--cn <name>', 'subject common name', 'Portcullis internal CA')
    .option('--days <n>', 'validity in days', days, 3650)
    .option('--force', 'replace an existing CA (certificates it issued stop verifying)')
    .option('--store <dir>', 'secret store folder (default: certs: of the config, else ./certs)')
    .option('-c, --config <file>', 'config file')
    .action((o: StoreOptions & { secret: string; cn: string; days: number; force?: boolean }) =>
      guarded(async ({ createCa }) => printIssued(await createCa({ store: storeFolder(o), secret: parseSecretName(o.secret), commonName: o.cn, days: o.days, force: o.force ?? false }))),
    );
  certs
    .command('issue')
    .description('issue a server (or --client) certificate signed by the CA into secret <ns>/<name>')
    .argument('[names...]', 'DNS names and IP addresses (subjectAltNames)')
    .requiredOption('--secret <ns/name>', 'where to store it')
    .option('--ca <ns/name>', 'the signing CA secret', 'portcullis/internal-ca')
    .option('--uri <uri>', 'URI subjectAltName, e.g. spiffe://empire.local/tiefighter (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--cn <name>', 'subject common name')
    .option('--client', 'a client certificate (mTLS identity) instead of a server certificate')
    .option('--days <n>', 'validity in days', days, 365)
    .option('--store <dir>', 'secret store folder (default: certs: of the config, else ./certs)')
    .option('-c, --config <file>', 'config file')
    .action((names: string[], o: StoreOptions & { secret: string; ca: string; uri: string[]; cn?: string; client?: boolean; days: number }) =>
      guarded(async ({ issueCertificate }) =>
        printIssued(
          await issueCertificate({
            store: storeFolder(o),
            ca: parseSecretName(o.ca),
            secret: parseSecretName(o.secret),
            names,
            uris: o.uri,
            ...(o.cn ? { commonName: o.cn } : {}),
            client: o.client ?? false,
            days: o.days,
          }),
        ),
      ),
    );
}

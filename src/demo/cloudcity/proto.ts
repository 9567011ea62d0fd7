// Loads cloudcity.proto at run time. The file ships next to this module's source; from `dist/` it is found
// either copied beside the compiled module or in the package's `src/demo/cloudcity/` folder.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import grpc from '@grpc/grpc-js';
import type { ServiceClientConstructor, ServiceDefinition } from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import { packageFile } from '../../package-root.js';

export const DOOR_SERVICE = 'cloudcity.DoorManager';

export function cloudCityProtoPath(): string {
  const candidates = [fileURLToPath(new URL('./cloudcity.proto', import.meta.url)), packageFile('src', 'demo', 'cloudcity', 'cloudcity.proto')];
  const found = candidates.find((p) => existsSync(p));
  if (found === undefined) throw new Error(`cloudcity.proto not found (looked in ${candidates.join(', ')})`);
  return found;
}

export interface CloudCity {
  readonly DoorManager: ServiceClientConstructor & { readonly service: ServiceDefinition };
}

let loaded: CloudCity | undefined;

/** The DoorManager client constructor and service definition. Numbers stay numbers (no Long), enums names. */
export function loadCloudCity(): CloudCity {
  if (loaded) return loaded;
  const definition = protoLoader.loadSync(cloudCityProtoPath(), { keepCase: true, enums: String, defaults: true });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as { cloudcity: CloudCity };
  loaded = pkg.cloudcity;
  return loaded;
}

// The public terminal (app=public-terminal): the guide's `cc_door_client.py <Method> <door_id> [<arg3>]`
// as a @grpc/grpc-js client on its own loopback address, printing what the Python client prints.
import grpc from '@grpc/grpc-js';
import type { Client, ServiceError } from '@grpc/grpc-js';
import { fromAddress } from './grpc-source-address.js';
import { loadCloudCity } from './proto.js';

export type DoorMethod = 'GetName' | 'GetLocation' | 'GetStatus' | 'RequestMaintenance' | 'SetAccessCode';

export type DoorOutcome =
  | { readonly ok: true; readonly line: string }
  | { readonly ok: false; readonly code: number; readonly details: string; readonly line: string };

export interface DoorTerminal {
  call(method: DoorMethod, doorId: number, arg3?: string): Promise<DoorOutcome>;
  close(): void;
}

export function openTerminal(o: { localAddress: string; host: string; port: number; deadlineMs?: number }): DoorTerminal {
  const { DoorManager } = loadCloudCity();
  const { target, options } = fromAddress(o.localAddress, o.host, o.port);
  const client = new DoorManager(target, grpc.credentials.createInsecure(), options) as Client & Record<string, Function>;
  const deadlineMs = o.deadlineMs ?? 5000;
  return {
    call(method, doorId, arg3) {
      const request = requestFor(method, doorId, arg3);
      return new Promise((resolve) => {
        client[method]!.call(client, request, { deadline: Date.now() + deadlineMs }, (err: ServiceError | null, reply: Record<string, unknown>) => {
          if (err) {
            const name = grpc.status[err.code] ?? String(err.code);
            resolve({ ok: false, code: err.code, details: err.details, line: `StatusCode.${name} (${err.code}): ${err.details}` });
          } else resolve({ ok: true, line: describeReply(method, reply, request) });
        });
      });
    },
    close: () => client.close(),
  };
}

function requestFor(method: DoorMethod, doorId: number, arg3: string | undefined): Record<string, unknown> {
  switch (method) {
    case 'SetAccessCode':
      return { door_id: doorId, access_code: Number(arg3 ?? 0) };
    case 'RequestMaintenance':
      return { door_id: doorId, maint_description: arg3 ?? '' };
    default:
      return { door_id: doorId };
  }
}

function describeReply(method: DoorMethod, reply: Record<string, unknown>, request: Record<string, unknown>): string {
  switch (method) {
    case 'GetName':
      return `Door name is: ${String(reply.name)}`;
    case 'GetLocation':
      return `Door location is lat = ${String(reply.lat)} long = ${String(reply.long)}`;
    case 'GetStatus':
      return `Door status is: ${String(reply.state)}`;
    case 'RequestMaintenance':
      return reply.success ? 'Successfully requested maintenance' : 'Maintenance request failed';
    case 'SetAccessCode':
      return reply.success ? `Successfully set AccessCode to ${String(request.access_code)}` : 'Setting AccessCode failed';
  }
}

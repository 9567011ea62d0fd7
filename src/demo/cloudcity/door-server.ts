// The Cloud City door manager (cc-door-mgr): the guide's gRPC server, with its reply values.
import grpc from '@grpc/grpc-js';
import type { sendUnaryData, ServerUnaryCall, UntypedServiceImplementation } from '@grpc/grpc-js';
import { loadCloudCity } from './proto.js';

export interface DoorServer {
  readonly host: string;
  readonly port: number;
  /** Calls served, by method name, in order (lets the demo show what reached the door manager). */
  readonly calls: string[];
  close(): Promise<void>;
}

type Unary = (call: ServerUnaryCall<Record<string, unknown>, unknown>, done: sendUnaryData<unknown>) => void;

export async function startDoorServer(host: string, port = 0): Promise<DoorServer> {
  const { DoorManager } = loadCloudCity();
  const calls: string[] = [];
  const reply =
    (method: string, value: (req: Record<string, unknown>) => unknown): Unary =>
    (call, done) => {
      calls.push(method);
      done(null, value(call.request));
    };
  const implementation: UntypedServiceImplementation = {
    GetName: reply('GetName', (req) => ({ name: `Spaceport Door #${String(req.door_id)}` })),
    GetLocation: reply('GetLocation', () => ({ lat: 10.2222, long: 68.8788 })),
    GetStatus: reply('GetStatus', () => ({ state: 'CLOSED' })),
    RequestMaintenance: reply('RequestMaintenance', () => ({ success: true })),
    SetAccessCode: reply('SetAccessCode', () => ({ success: true })),
  };
  const server = new grpc.Server();
  server.addService(DoorManager.service, implementation);
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    host,
    port: bound,
    calls,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
